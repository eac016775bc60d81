"""Bounded decoding of untrusted Avro: depth, item counts, clear reasons, schema admission."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stream_sentinel.config import load_settings
from stream_sentinel.detector.intake import TransactionIntake
from stream_sentinel.errors import RegistryError
from stream_sentinel.registry_server.local_client import LocalRegistryClient
from stream_sentinel.transport.memory_log import MemoryRecord
from stream_sentinel.wire.schemas import find
from stream_sentinel.wire.schemas.bounds import BoundsCheck, DecodeLimits, UnsafeSchema
from stream_sentinel.wire.serde import AvroDecoder, frame
from tests.hostile import (
    HOP,
    NOW_MS,
    NULL_ARRAY,
    avro_long,
    core_body,
    schema_text,
    v2_body,
    v3_with,
)

pytestmark = pytest.mark.unit
V2 = find("Transaction", 2).text
ROOT = Path(__file__).resolve().parents[2]


def test_hops_within_the_depth_limit_decode_and_one_more_level_is_too_deep() -> None:
    check = BoundsCheck(v3_with(HOP), DecodeLimits(max_depth=10))
    body = v2_body("t", "u")
    # the Transaction is level 0, each Hop one more: 9 hops fit in 10 levels
    assert check.problem(body + b"\x02" * 9 + b"\x00", 0) is None
    assert check.problem(body + b"\x02" * 10 + b"\x00", 0) == (
        "too_deep",
        "the record nests deeper than 10 levels (SENTINEL_DETECTOR_MAX_DECODE_DEPTH)",
    )


def test_items_are_counted_across_blocks_before_any_is_read() -> None:
    check = BoundsCheck(v3_with(NULL_ARRAY), DecodeLimits(max_items=100))
    body = v2_body("t", "u") + avro_long(1)  # the union's array branch
    assert check.problem(body + avro_long(60) + avro_long(40) + b"\x00", 0) is None
    refused = check.problem(body + avro_long(60) + avro_long(41) + b"\x00", 0)
    assert refused is not None and refused[0] == "too_large"
    # a negative count is followed by the block's byte size; it counts as its absolute value
    assert check.problem(body + avro_long(-101) + avro_long(0) + b"\x00", 0) == refused


def test_a_negative_length_and_a_short_body_are_named() -> None:
    check = BoundsCheck(json.loads(V2), DecodeLimits())
    assert check.problem(avro_long(-3), 0) == (
        "malformed_body",
        "field transaction_id: negative length -3",
    )
    assert check.problem(core_body("t", "u")[:-1], 0) == (
        "truncated_body",
        "the Avro body ends before the record does",
    )
    assert check.problem(b"\xff" * 11, 0) == ("malformed_body", "a number is longer than 10 bytes")


def test_a_schema_nested_deeper_than_100_levels_is_unsafe_and_never_parsed() -> None:
    deep: Any = "string"
    for _ in range(150):
        deep = {"type": "array", "items": deep}
    document = {"type": "record", "name": "Transaction", "namespace": "io.streamsentinel",
                "fields": [{"name": "x", "type": deep}]}  # fmt: skip
    with pytest.raises(UnsafeSchema, match="nests deeper than 100 levels"):
        BoundsCheck(document, DecodeLimits())
    decoder = AvroDecoder(_Serving({7: json.dumps(document)}), V2)  # type: ignore[arg-type]
    _, failures = decoder.decode_many([frame(7, b"\x00")])
    assert [(f.kind, f.reason) for f in failures] == [
        ("unsafe_schema", "schema id 7: the schema nests deeper than 100 levels")
    ]


class _Serving:
    """A registry that serves fixed schema texts by id and counts its calls."""

    def __init__(self, schemas: dict[int, str]) -> None:
        self.schemas, self.calls = schemas, 0

    def schema_by_id(self, schema_id: int) -> str:
        self.calls += 1
        if schema_id not in self.schemas:
            raise RegistryError(f"schema {schema_id} not found", 40403, 404)
        return self.schemas[schema_id]


def test_unknown_schema_ids_are_remembered_as_misses_for_a_while() -> None:
    now = [0.0]
    registry = _Serving({})
    decoder = AvroDecoder(registry, V2, monotonic=lambda: now[0])  # type: ignore[arg-type]
    flood = [frame(1000 + n % 100, b"\x02a") for n in range(1000)]
    for _ in range(5):  # five batches of 1,000 records with 100 distinct unknown ids
        _, failures = decoder.decode_many(flood)
        assert {f.kind for f in failures} == {"unknown_schema_id"} and len(failures) == 1000
    assert registry.calls == 100
    registry.schemas[1000] = V2  # registered meanwhile: seen once the miss expires
    now[0] += 31.0
    records, _ = decoder.decode_many([frame(1000, v2_body("t", "u"))])
    assert records[0] is not None and records[0]["transaction_id"] == "t"


def test_arbitrary_schemas_and_bytes_never_crash_or_hang_the_decoder() -> None:
    # in a child: a segfault or an endless loop cannot be caught in the process that has it
    done = subprocess.run(
        [sys.executable, "-m", "tests.unit.decode_properties", "400"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert (done.returncode, done.stdout.strip()) == (0, "decoding_never_raises: ok"), done.stderr


NAMES = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True)


@settings(max_examples=60, deadline=None)
@given(
    namespace=st.none() | st.sampled_from(["io.streamsentinel", "io", "probe.foreign"]) | NAMES,
    name=st.sampled_from(["Transaction", "NotATransaction"]) | NAMES,
)
def test_only_writer_schemas_named_transaction_are_ever_decided(
    namespace: str | None, name: str
) -> None:
    registry = LocalRegistryClient.in_memory()
    document: dict[str, Any] = find("Transaction", 2).json
    document["name"] = name
    document.pop("namespace")
    if namespace is not None:
        document["namespace"] = namespace
    schema_id = registry.register("probe-value", schema_text(document))
    intake = TransactionIntake(
        registry,
        AvroDecoder(registry, V2),
        load_settings("test", environ={}).detector,
    )
    record = MemoryRecord("transactions", 0, 0, b"u", frame(schema_id, v2_body("t", "u")), 1, None)
    taken = intake.take([record], NOW_MS)
    is_transaction = (namespace, name) == ("io.streamsentinel", "Transaction")
    assert taken.transaction_id == (["t"] if is_transaction else [])
    assert [r.error_type for _, r in taken.rejected] == (
        [] if is_transaction else ["foreign_schema"]
    )


def _fan_out(levels: int, width: int = 10) -> dict[str, Any]:
    """Records of nulls whose fields reuse the record below: 10^levels values, zero bytes."""
    record: Any = {"type": "record", "name": "L0",
                   "fields": [{"name": f"f{i}", "type": "null"} for i in range(width)]}  # fmt: skip
    for k in range(1, levels + 1):
        fields = [{"name": "f0", "type": record}]
        fields += [{"name": f"f{i}", "type": f"L{k - 1}"} for i in range(1, width)]
        record = {"type": "record", "name": f"L{k}", "fields": fields}
    return record


def test_a_schema_that_fans_out_into_empty_values_is_bounded_by_the_values_walked() -> None:
    limits = DecodeLimits(max_items=1000)  # 10,000 values
    assert BoundsCheck(_fan_out(2), limits).problem(b"", 0) is None  # 111 records, 1,000 nulls
    assert BoundsCheck(_fan_out(9), limits).problem(b"", 0) == (
        "too_large",
        "more than 10,000 values in one record (10 x SENTINEL_DETECTOR_MAX_DECODE_ITEMS)",
    )


def test_the_intake_asks_the_registry_once_per_unknown_id_and_remembers_few() -> None:
    registry = _Serving({})
    decoder = AvroDecoder(registry, V2)  # type: ignore[arg-type]
    intake = TransactionIntake(
        registry,  # type: ignore[arg-type]
        decoder,
        load_settings("test", environ={}).detector,
    )
    for _ in range(5):
        records = [
            MemoryRecord("transactions", 0, n, b"u", frame(10_000 + n % 100, b"\x02a"), 1, None)
            for n in range(1000)
        ]
        taken = intake.take(records, NOW_MS)
        assert {r.error_type for _, r in taken.rejected} == {"unknown_schema_id"}
    assert registry.calls == 100  # not one per batch, nor one for the plan and one to decode
