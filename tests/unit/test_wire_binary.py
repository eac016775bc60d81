"""The per-type encoders write what fastavro writes, for every kind a field plan holds."""

from __future__ import annotations

import io
import json
from typing import Any

import fastavro
import pytest

from stream_sentinel.errors import SchemaError
from stream_sentinel.wire.binary import default_bytes, encoder_for
from stream_sentinel.wire.schemas import compile_plan

ENUM = {"type": "enum", "name": "Tier", "symbols": ["LOW", "HIGH"]}
PAIR = {
    "type": "record",
    "name": "Pair",
    "fields": [{"name": "k", "type": "string"}, {"name": "v", "type": "double"}],
}
TRIPLE = {
    "type": "record",
    "name": "Triple",
    "fields": [{"name": n, "type": "long"} for n in ("a", "b", "c")],
}

#: (type, value as fastavro takes it, value as the encoder takes it)
CASES: list[tuple[Any, Any, Any]] = [
    ("boolean", True, True),
    ("int", -(2**31), -(2**31)),
    ("long", 2**63 - 1, 2**63 - 1),
    ("float", 1.5, 1.5),
    ("double", -0.1, -0.1),
    ("bytes", b"\x00\xff", b"\x00\xff"),
    ("string", "é" * 70, "é" * 70),
    ({"type": "fixed", "name": "F", "size": 3}, b"abc", b"abc"),
    (ENUM, "HIGH", 1),
    (["null", "long"], None, None),
    (["null", "long"], -3, -3),
    (["double", "null"], None, None),
    (["double", "null"], 2.5, 2.5),
    ({"type": "array", "items": "string"}, ["a", "bc"], ["a", "bc"]),
    ({"type": "array", "items": PAIR}, [{"k": "x", "v": 1.0}], [("x", 1.0)]),
    ({"type": "array", "items": TRIPLE}, [{"a": 1, "b": -2, "c": 3}], [(1, -2, 3)]),
    ({"type": "map", "values": "long"}, {"a": 1, "b": 300}, {"a": 1, "b": 300}),
    ({"type": "map", "values": "string"}, {}, {}),
]


NONE: Any = object()


def plan_of(kind: Any, default: Any = NONE) -> Any:
    field: dict[str, Any] = {"name": "f", "type": kind}
    if default is not NONE:
        field["default"] = default
    return compile_plan(json.dumps({"type": "record", "name": "R", "fields": [field]}))


def fastavro_bytes(kind: Any, value: Any) -> bytes:
    schema = {"type": "record", "name": "R", "fields": [{"name": "f", "type": kind}]}
    out = io.BytesIO()
    fastavro.schemaless_writer(out, fastavro.parse_schema(schema), {"f": value})
    return out.getvalue()


@pytest.mark.parametrize(
    ("kind", "avro_value", "value"), CASES, ids=[json.dumps(case[0])[:40] for case in CASES]
)
def test_each_kind_is_encoded_as_fastavro_encodes_it(
    kind: Any, avro_value: Any, value: Any
) -> None:
    field = plan_of(kind).field("f")
    assert encoder_for(field.type)(value) == fastavro_bytes(kind, avro_value)


@pytest.mark.parametrize(
    ("kind", "default"),
    [
        (["null", "string"], None),
        ("string", "eu"),
        (ENUM, "HIGH"),
        ({"type": "map", "values": "string"}, {}),
    ],
    ids=["null", "string", "enum", "map"],
)  # fmt: skip
def test_a_default_is_written_as_fastavro_writes_a_missing_field(kind: Any, default: Any) -> None:
    field = plan_of(kind, default).field("f")
    schema = {
        "type": "record",
        "name": "R",
        "fields": [{"name": "f", "type": kind, "default": default}],
    }
    out = io.BytesIO()
    fastavro.schemaless_writer(out, fastavro.parse_schema(schema), {})
    assert default_bytes(field) == out.getvalue()


def test_what_has_no_encoder_or_no_default_says_so() -> None:
    with pytest.raises(SchemaError, match="only unions of null and one type"):
        encoder_for(plan_of(["string", "long"]).field("f").type)
    with pytest.raises(SchemaError, match="field f has no value and no default"):
        default_bytes(plan_of("string").field("f"))
