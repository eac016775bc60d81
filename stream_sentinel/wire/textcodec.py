"""CSV and JSON Lines for columnar batches, without a Python loop per row.

Each field becomes a byte matrix (rows x width) built from lookup tables (``"0000".."9999"``,
vocabulary strings), padded with NUL bytes; the row layout interleaves fields with literal
separators, and dropping every NUL byte of the matrix yields the text. The values rendered
never contain NUL, commas or quotes, so no escaping is needed.

The columns and their order come from the record's field plan, and each field's JSON form from
its type: strings and enum symbols are quoted, numbers are bare, a map is an object (what its
renderer prints goes inside the braces; nothing: ``{}``). How a value prints (ids, decimals) is
the caller's: it gives a renderer per field.

>>> vocabulary(["EUR", "US"]).tobytes()
b'EURUS\\x00'
>>> assemble([b"id-", digits(np.array([7, 42]), 3), b"\\n"], rows=2)
b'id-007\\nid-042\\n'
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence, Sized
from dataclasses import dataclass
from functools import cache
from typing import Generic, TypeVar

import numpy as np
import numpy.typing as npt

from stream_sentinel.errors import SchemaError
from stream_sentinel.wire.schemas.plan import RecordPlan

Bytes2D = npt.NDArray[np.uint8]
Piece = bytes | Bytes2D
BatchT = TypeVar("BatchT", bound=Sized)
Render = Callable[[BatchT], list[Piece]]

#: How each JSON form opens and closes a value.
_DELIMITERS = {
    "string": (b'"', b'"'),
    "number": (b"", b""),
    "object": (b"{", b"}"),
    "null": (b"null", b""),
}


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


@dataclass(frozen=True, slots=True)
class TextField(Generic[BatchT]):
    """One column: its name, how it prints, and its JSON form (string, number, object; null:
    a column with no values)."""

    name: str
    render: Render[BatchT]
    form: str = "string"


def text_fields(
    plan: RecordPlan,
    renderers: Mapping[str, Render[BatchT]],
    extra: Sequence[TextField[BatchT]] = (),
) -> list[TextField[BatchT]]:
    """The plan's fields in schema order, each with its renderer, then ``extra`` columns. A
    field without a renderer prints as null (CSV: empty) when its schema allows null."""
    fields = []
    for field in plan.fields:
        if field.name in renderers:
            form = _form(field.value_type.kind)
            fields.append(TextField(field.name, renderers[field.name], form))
        elif field.nullable:
            fields.append(TextField(field.name, _nothing, "null"))
        else:
            raise SchemaError(f"no text renderer for the schema field {field.name}")
    return fields + list(extra)


def _nothing(batch: Sized) -> list[Piece]:
    return []


def _form(kind: str) -> str:
    if kind in ("string", "enum", "bytes", "fixed"):
        return "string"
    return "object" if kind in ("map", "record") else "number"


class CsvCodec(Generic[BatchT]):
    """Rows as CSV with a header line (an object field prints what its renderer gives)."""

    def __init__(self, fields: Sequence[TextField[BatchT]]) -> None:
        self._fields = list(fields)

    def header(self) -> bytes:
        return (",".join(f.name for f in self._fields) + "\n").encode()

    def encode(self, batch: BatchT) -> bytes:
        rows = len(batch)
        if not rows:
            return b""
        pieces: list[Piece] = []
        for index, field in enumerate(self._fields):
            pieces.extend(field.render(batch))
            pieces.append(b"\n" if index == len(self._fields) - 1 else b",")
        return assemble(pieces, rows)


class JsonLinesCodec(Generic[BatchT]):
    """One JSON object per line, keys in schema order."""

    def __init__(self, fields: Sequence[TextField[BatchT]]) -> None:
        self._fields = list(fields)

    def header(self) -> bytes:
        return b""

    def encode(self, batch: BatchT) -> bytes:
        rows = len(batch)
        if not rows:
            return b""
        pieces: list[Piece] = []
        for index, field in enumerate(self._fields):
            opening, closing = _DELIMITERS[field.form]
            key = (b"{" if index == 0 else b",") + f'"{field.name}":'.encode()
            pieces.append(key + opening)
            pieces.extend(field.render(batch))
            pieces.append(closing)
        pieces.append(b"}\n")
        return assemble(pieces, rows)
