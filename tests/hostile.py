"""The hostile corpus: records a foreign producer can write into `transactions`, and what each
must become (a dead letter with this error type), shared by the unit and integration tiers.

Each case says which writer schema it needs registered (``schema``, a JSON document; None: no
registration) and builds its bytes from the id that schema got. Bodies are written by hand, byte
by byte, because no honest encoder writes them.
"""

from __future__ import annotations

import json
import math
import os
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from stream_sentinel.wire.schemas import find
from stream_sentinel.wire.serde import frame

NAMESPACE = "io.streamsentinel"
NOW_MS = 1_764_720_000_000  # 2025-12-03: the time the corpus's "valid" timestamps sit at
FAR_FUTURE_MS = NOW_MS + 50 * 365 * 86_400_000  # in the future of any clock that reads it


def avro_long(value: int) -> bytes:
    """Avro's zigzag varint (64-bit)."""
    unsigned = (value << 1) ^ (value >> 63) if value >= 0 else ((-value - 1) << 1) | 1
    out = bytearray()
    while unsigned >= 0x80:
        out.append((unsigned & 0x7F) | 0x80)
        unsigned >>= 7
    out.append(unsigned)
    return bytes(out)


def avro_string(text: str) -> bytes:
    data = text.encode()
    return avro_long(len(data)) + data


def avro_double(value: float) -> bytes:
    return struct.pack("<d", value)


def _record(name: str, fields: list[dict[str, Any]], namespace: str = NAMESPACE) -> dict[str, Any]:
    return {"type": "record", "name": name, "namespace": namespace, "fields": fields}


_CORE_FIELDS = [
    {"name": "transaction_id", "type": "string"},
    {"name": "user_id", "type": "string"},
    {"name": "amount", "type": "double"},
    {"name": "timestamp", "type": {"type": "long", "logicalType": "timestamp-millis"}},
]


def core_body(transaction_id: str, user_id: str, amount: float = 12.5, ts: int = NOW_MS) -> bytes:
    return avro_string(transaction_id) + avro_string(user_id) + avro_double(amount) + avro_long(ts)


def v3_with(field: dict[str, Any]) -> dict[str, Any]:
    """Transaction v2 plus one optional field (a compatible v3, as a registry would accept)."""
    document: dict[str, Any] = find("Transaction", 2).json
    document["fields"].append(field)
    return document


def v2_body(transaction_id: str, user_id: str, *, amount: float = 12.5, ts: int = NOW_MS) -> bytes:
    """A valid Transaction v2 body with every optional field null and no metadata."""
    return (
        core_body(transaction_id, user_id, amount, ts)
        + b"\x00"  # currency: null
        + b"\x00"  # merchant_id: null
        + b"\x00"  # merchant_category: null
        + avro_long(1)  # channel: POS
        + avro_long(0)  # card_type: CREDIT
        + b"\x00" * 8  # device_id .. merchant_country: null
        + avro_long(0)  # metadata: empty map
    )


HOP = {
    "name": "hops",
    "type": [
        "null",
        {
            "type": "record",
            "name": "Hop",
            "fields": [{"name": "next", "type": ["null", "Hop"], "default": None}],
        },
    ],
    "default": None,
}
NULL_ARRAY = {
    "name": "nothing",
    "type": ["null", {"type": "array", "items": "null"}],
    "default": None,
}
FOREIGN = _record("NotATransaction", _CORE_FIELDS, namespace="probe.foreign")
CHANNEL_ONLY = _record(
    "Transaction",
    [*_CORE_FIELDS, {"name": "channel", "type": find("Transaction", 2).json["fields"][7]["type"]}],
)
UNION_ONLY = _record(
    "Transaction",
    [*_CORE_FIELDS, {"name": "currency", "type": ["null", "string"], "default": None}],
)


@dataclass(frozen=True)
class Case:
    """One hostile record: its name, the dead letter's error type, and how to build it."""

    name: str
    error_type: str
    build: Callable[[int], bytes | None]  # schema id -> value
    schema: dict[str, Any] | None = None
    key: bytes | None = None


def _deep_hops(schema_id: int) -> bytes:
    depth = 30_000
    # v2 body, then the hops union: branch 1 (a Hop), whose `next` is branch 1 ... then null
    return frame(schema_id, v2_body("hostile-hops", "u-hostile") + b"\x02" * depth + b"\x00")


def _null_array(schema_id: int) -> bytes:
    body = v2_body("hostile-nulls", "u-hostile") + avro_long(1) + avro_long(2**62) + b"\x00"
    return frame(schema_id, body)


def corpus() -> list[Case]:
    """Every hostile class the detector must dead-letter, with its reason."""
    transaction = find("Transaction", 2).json
    return [
        Case("random bytes", "bad_magic", lambda _: b"\x07" + os.urandom(40)),
        Case("empty value", "empty_value", lambda _: b""),
        Case("null value", "empty_value", lambda _: None),
        Case("truncated header", "truncated_header", lambda _: b"\x00\x00\x01"),
        Case("unknown schema id", "unknown_schema_id", lambda _: frame(987_654, b"\x02a")),
        Case(
            "truncated avro",
            "truncated_body",
            lambda i: frame(i, v2_body("hostile-trunc", "u-hostile")[:15]),
            transaction,
        ),
        Case("recursive schema, 30,000 deep", "too_deep", _deep_hops, v3_with(HOP)),
        Case("array of nulls, 2^62 items", "too_large", _null_array, v3_with(NULL_ARRAY)),
        Case(
            "foreign record type",
            "foreign_schema",
            lambda i: frame(i, core_body("hostile-foreign", "u-hostile")),
            FOREIGN,
        ),
        Case(
            "enum index 99",
            "malformed_body",
            lambda i: frame(i, core_body("hostile-enum", "u-hostile") + avro_long(99)),
            CHANNEL_ONLY,
        ),
        Case(
            "union branch 5",
            "malformed_body",
            lambda i: frame(i, core_body("hostile-union", "u-hostile") + avro_long(5)),
            UNION_ONLY,
        ),
        Case(
            "NaN amount",
            "invalid_amount",
            lambda i: frame(i, v2_body("hostile-nan", "u-hostile", amount=math.nan)),
            transaction,
        ),
        Case(
            "negative amount",
            "invalid_amount",
            lambda i: frame(i, v2_body("hostile-neg", "u-hostile", amount=-5.0)),
            transaction,
        ),
        Case(
            "infinite amount",
            "invalid_amount",
            lambda i: frame(i, v2_body("hostile-inf", "u-hostile", amount=-math.inf)),
            transaction,
        ),
        Case(
            "huge amount",
            "invalid_amount",
            lambda i: frame(i, v2_body("hostile-huge", "u-hostile", amount=1e300)),
            transaction,
        ),
        Case(
            "future timestamp",
            "future_timestamp",
            lambda i: frame(i, v2_body("hostile-future", "u-hostile", ts=FAR_FUTURE_MS)),
            transaction,
        ),
        Case(
            "oversized value",
            "payload_too_large",
            lambda i: frame(i, v2_body("hostile-big", "u-hostile") + os.urandom(70_000)),
            transaction,
        ),
        Case(
            "600 KB key, junk value",
            "bad_magic",
            lambda _: b"junk",
            key=os.urandom(600_000),
        ),
    ]


def schema_text(document: dict[str, Any]) -> str:
    return json.dumps(document)
