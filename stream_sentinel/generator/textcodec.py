"""CSV and JSON Lines for columnar batches, without a Python loop per row.

Each field becomes a byte matrix (rows x width) built from lookup tables (``"0000".."9999"``,
vocabulary strings), padded with NUL bytes; the row layout interleaves fields with literal
separators, and dropping every NUL byte of the matrix yields the text. Our values never contain
NUL, commas or quotes, so no escaping is needed. Numbers have a fixed number of decimals
(amounts 2, coordinates 5), so every value reads back exactly as the batch holds it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np
import numpy.typing as npt

from stream_sentinel.generator import catalog
from stream_sentinel.generator.batch import TransactionBatch
from stream_sentinel.generator.geography import COUNTRIES, CURRENCIES
from stream_sentinel.generator.population import ID_FORMATS

Bytes2D = npt.NDArray[np.uint8]
Piece = bytes | Bytes2D

#: Transaction v2 fields in schema order, then the two ground-truth columns.
COLUMNS: tuple[str, ...] = (
    "transaction_id",
    "user_id",
    "amount",
    "timestamp",
    "currency",
    "merchant_id",
    "merchant_category",
    "channel",
    "card_type",
    "device_id",
    "ip_address",
    "latitude",
    "longitude",
    "merchant_latitude",
    "merchant_longitude",
    "country",
    "merchant_country",
    "metadata",
    "is_fraud",
    "fraud_pattern",
)
GROUND_TRUTH_COLUMNS = ("is_fraud", "fraud_pattern")


@cache
def number_table(count: int, width: int, padded: bool) -> Bytes2D:
    """Row i holds the decimal digits of i (zero-padded to ``width``, or NUL-padded)."""
    text = np.arange(count).astype(f"S{width}")
    if padded:
        text = np.char.zfill(text, width)
    return text.view(np.uint8).reshape(count, width)


def digits(values: npt.NDArray[np.integer], width: int) -> Bytes2D:
    """Zero-padded decimal digits of non-negative integers below ``10**width``."""
    groups = -(-width // 4)
    out = np.empty((len(values), groups * 4), dtype=np.uint8)
    rest = values.astype(np.int64)
    table = number_table(10_000, 4, True)
    for group in range(groups - 1, -1, -1):
        out[:, group * 4 : group * 4 + 4] = table[rest % 10_000]
        rest = rest // 10_000
    return out[:, groups * 4 - width :]


def vocabulary(words: Sequence[str]) -> Bytes2D:
    """A lookup table: row i holds word i, NUL-padded."""
    width = max(1, *(len(w) for w in words))
    table = np.array([w.encode() for w in words], dtype=f"S{width}")
    return table.view(np.uint8).reshape(len(words), width)


def amount(cents: npt.NDArray[np.int64]) -> list[Piece]:
    """Non-negative money with two decimals (cents below 10**8, as the simulator clips them)."""
    return [
        number_table(1_000_000, 6, False)[cents // 100],
        b".",
        number_table(100, 2, True)[cents % 100],
    ]


def coordinate(degrees: npt.NDArray[np.float64]) -> list[Piece]:
    """Degrees with five decimals."""
    units = np.rint(degrees * 1e5).astype(np.int64)
    sign = np.where(units < 0, ord("-"), 0).astype(np.uint8)[:, None]
    units = np.abs(units)
    return [
        sign,
        number_table(1000, 3, False)[units // 100_000],
        b".",
        number_table(100_000, 5, True)[units % 100_000],
    ]


def ip_address(ips: npt.NDArray[np.uint32]) -> list[Piece]:
    octet = number_table(256, 3, False)
    return [
        octet[ips >> 24],
        b".",
        octet[(ips >> 16) & 255],
        b".",
        octet[(ips >> 8) & 255],
        b".",
        octet[ips & 255],
    ]


def identifier(kind: str, numbers: npt.NDArray[np.integer]) -> list[Piece]:
    prefix, width = ID_FORMATS[kind]
    return [prefix.encode(), digits(numbers, width)]


def assemble(pieces: Sequence[Piece], rows: int) -> bytes:
    """Concatenate the pieces of every row and drop the NUL padding."""
    merged = _merge_literals(pieces)
    widths = [len(p) if isinstance(p, bytes) else p.shape[1] for p in merged]
    matrix = np.empty((rows, sum(widths)), dtype=np.uint8)
    column = 0
    for piece, width in zip(merged, widths, strict=True):
        block = np.frombuffer(piece, dtype=np.uint8) if isinstance(piece, bytes) else piece
        matrix[:, column : column + width] = block
        column += width
    flat = matrix.reshape(-1)
    return flat[flat != 0].tobytes()


def _merge_literals(pieces: Sequence[Piece]) -> list[Piece]:
    merged: list[Piece] = []
    for piece in pieces:
        if isinstance(piece, bytes) and merged and isinstance(merged[-1], bytes):
            merged[-1] = merged[-1] + piece
        elif not isinstance(piece, bytes) or piece:
            merged.append(piece)
    return merged


FieldRenderer = Callable[[TransactionBatch], list[Piece]]


@dataclass(frozen=True, slots=True)
class _Field:
    name: str
    render: FieldRenderer
    quoted: bool  # a JSON string (numbers and objects are not)


def text_renderers(id_prefix: str) -> dict[str, FieldRenderer]:
    """How each column prints, by column name (also used for Avro strings)."""
    return {field.name: field.render for field in _fields(id_prefix)}


def _fields(id_prefix: str) -> list[_Field]:
    tables = {
        "currency": vocabulary(CURRENCIES),
        "category": vocabulary(catalog.CATEGORY_NAMES),
        "channel": vocabulary([c.value for c in catalog.CHANNELS]),
        "card_type": vocabulary([c.value for c in catalog.CARD_TYPES]),
        "country": vocabulary(COUNTRIES),
        "pattern": vocabulary(catalog.PATTERN_NAMES),
        "flag": vocabulary(["0", "1"]),
    }
    prefix = id_prefix.encode()
    return [
        _Field("transaction_id", lambda b: [prefix, digits(b.seq, 10)], True),
        _Field("user_id", lambda b: identifier("user", b.user), True),
        _Field("amount", lambda b: amount(b.amount_cents), False),
        _Field("timestamp", lambda b: [digits(b.timestamp, 13)], False),  # 2001..2286
        _Field("currency", lambda b: [tables["currency"][b.currency]], True),
        _Field("merchant_id", lambda b: identifier("merchant", b.merchant), True),
        _Field("merchant_category", lambda b: [tables["category"][b.category]], True),
        _Field("channel", lambda b: [tables["channel"][b.channel]], True),
        _Field("card_type", lambda b: [tables["card_type"][b.card_type]], True),
        _Field("device_id", lambda b: identifier("device", b.device), True),
        _Field("ip_address", lambda b: ip_address(b.ip), True),
        _Field("latitude", lambda b: coordinate(b.latitude), False),
        _Field("longitude", lambda b: coordinate(b.longitude), False),
        _Field("merchant_latitude", lambda b: coordinate(b.merchant_latitude), False),
        _Field("merchant_longitude", lambda b: coordinate(b.merchant_longitude), False),
        _Field("country", lambda b: [tables["country"][b.country]], True),
        _Field("merchant_country", lambda b: [tables["country"][b.merchant_country]], True),
        _Field("metadata", lambda b: [], False),
        _Field("is_fraud", lambda b: [tables["flag"][(b.pattern != 0).astype(np.int8)]], False),
        _Field("fraud_pattern", lambda b: [tables["pattern"][b.pattern]], True),
    ]


class CsvCodec:
    """Rows as CSV with a header line; ``metadata`` is empty (the generator sets none)."""

    def __init__(self, id_prefix: str) -> None:
        self._fields = _fields(id_prefix)

    def header(self) -> bytes:
        return (",".join(f.name for f in self._fields) + "\n").encode()

    def encode(self, batch: TransactionBatch) -> bytes:
        if not len(batch):
            return b""
        pieces: list[Piece] = []
        for index, field in enumerate(self._fields):
            pieces.extend(field.render(batch))
            pieces.append(b"\n" if index == len(self._fields) - 1 else b",")
        return assemble(pieces, len(batch))


class JsonLinesCodec:
    """One JSON object per line, keys in schema order; ``metadata`` is ``{}``."""

    def __init__(self, id_prefix: str) -> None:
        self._fields = _fields(id_prefix)

    def header(self) -> bytes:
        return b""

    def encode(self, batch: TransactionBatch) -> bytes:
        if not len(batch):
            return b""
        pieces: list[Piece] = []
        for index, field in enumerate(self._fields):
            opening = b"{" if index == 0 else b","
            quote = b'"' if field.quoted else b""
            pieces.append(opening + f'"{field.name}":'.encode() + quote)
            rendered = field.render(batch)
            pieces.extend(rendered if field.name != "metadata" else [b"{}"])
            pieces.append(quote)
        pieces.append(b"}\n")
        return assemble(pieces, len(batch))
