"""How the generator's transactions print in CSV and JSON Lines: a renderer per Transaction field.

The columns are the newest Transaction schema's fields in schema order (from its field plan),
then the two ground-truth columns; the formats themselves are in
:mod:`stream_sentinel.wire.textcodec`. Numbers have a fixed number of decimals (amounts 2,
coordinates 5), so every value reads back exactly as the batch holds it; ``metadata`` is empty
(the generator sets none).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from stream_sentinel.generator import catalog
from stream_sentinel.generator.batch import TransactionBatch
from stream_sentinel.generator.geography import COUNTRIES, CURRENCIES
from stream_sentinel.generator.population import ID_FORMATS
from stream_sentinel.wire.schemas import bundled_plan
from stream_sentinel.wire.textcodec import (
    CsvCodec,
    JsonLinesCodec,
    Piece,
    Render,
    TextField,
    digits,
    number_table,
    text_fields,
    vocabulary,
)

FieldRenderer = Render[TransactionBatch]
GROUND_TRUTH_COLUMNS = ("is_fraud", "fraud_pattern")
#: The newest Transaction schema's fields in schema order, then the two ground-truth columns.
COLUMNS: tuple[str, ...] = (*bundled_plan("Transaction").names, *GROUND_TRUTH_COLUMNS)


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


def text_renderers(id_prefix: str) -> dict[str, FieldRenderer]:
    """How each Transaction field prints, by field name (also used for Avro strings)."""
    tables = {
        "currency": vocabulary(CURRENCIES),
        "category": vocabulary(catalog.CATEGORY_NAMES),
        "channel": vocabulary([c.value for c in catalog.CHANNELS]),
        "card_type": vocabulary([c.value for c in catalog.CARD_TYPES]),
        "country": vocabulary(COUNTRIES),
    }
    prefix = id_prefix.encode()
    return {
        "transaction_id": lambda b: [prefix, digits(b.seq, 10)],
        "user_id": lambda b: identifier("user", b.user),
        "amount": lambda b: amount(b.amount_cents),
        "timestamp": lambda b: [digits(b.timestamp, 13)],  # 2001..2286
        "currency": lambda b: [tables["currency"][b.currency]],
        "merchant_id": lambda b: identifier("merchant", b.merchant),
        "merchant_category": lambda b: [tables["category"][b.category]],
        "channel": lambda b: [tables["channel"][b.channel]],
        "card_type": lambda b: [tables["card_type"][b.card_type]],
        "device_id": lambda b: identifier("device", b.device),
        "ip_address": lambda b: ip_address(b.ip),
        "latitude": lambda b: coordinate(b.latitude),
        "longitude": lambda b: coordinate(b.longitude),
        "merchant_latitude": lambda b: coordinate(b.merchant_latitude),
        "merchant_longitude": lambda b: coordinate(b.merchant_longitude),
        "country": lambda b: [tables["country"][b.country]],
        "merchant_country": lambda b: [tables["country"][b.merchant_country]],
        "metadata": lambda b: [],
    }


def _ground_truth() -> list[TextField[TransactionBatch]]:
    flag, pattern = vocabulary(["0", "1"]), vocabulary(catalog.PATTERN_NAMES)
    return [
        TextField("is_fraud", lambda b: [flag[(b.pattern != 0).astype(np.int8)]], "number"),
        TextField("fraud_pattern", lambda b: [pattern[b.pattern]]),
    ]


def transaction_fields(id_prefix: str) -> list[TextField[TransactionBatch]]:
    """Every column of a dataset file, in order."""
    plan = bundled_plan("Transaction")
    return text_fields(plan, text_renderers(id_prefix), _ground_truth())


def csv_codec(id_prefix: str) -> CsvCodec[TransactionBatch]:
    return CsvCodec(transaction_fields(id_prefix))


def jsonl_codec(id_prefix: str) -> JsonLinesCodec[TransactionBatch]:
    return JsonLinesCodec(transaction_fields(id_prefix))
