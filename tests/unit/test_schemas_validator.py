"""The compiled validator: what conforms, and the exact field and reason when something doesn't."""

from __future__ import annotations

import datetime
from typing import Any

import numpy as np
import pytest

from stream_sentinel.errors import SchemaError
from stream_sentinel.wire.schemas import compile_validator, find

SCHEMA = {
    "type": "record",
    "name": "Payment",
    "namespace": "io.test",
    "fields": [
        {"name": "id", "type": "string"},
        {"name": "amount", "type": "double"},
        {"name": "count", "type": "int"},
        {"name": "at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
        {"name": "note", "type": ["null", "string"], "default": None},
        {"name": "kind", "type": {"type": "enum", "name": "Kind", "symbols": ["A", "B"]}},
        {"name": "tags", "type": {"type": "array", "items": "string"}, "default": []},
        {"name": "scores", "type": {"type": "map", "values": "double"}, "default": {}},
        {"name": "raw", "type": ["null", "bytes"], "default": None},
        {"name": "flag", "type": "boolean", "default": False},
        {
            "name": "parts",
            "type": {
                "type": "array",
                "items": {
                    "type": "record",
                    "name": "Part",
                    "fields": [{"name": "label", "type": "string"}, {"name": "w", "type": "float"}],
                },
            },
            "default": [],
        },
        {"name": "again", "type": ["null", "Kind"], "default": None},
    ],
}

GOOD: dict[str, Any] = {
    "id": "p1",
    "amount": 12.5,
    "count": 3,
    "at": 1_700_000_000_000,
    "note": None,
    "kind": "A",
    "tags": ["x"],
    "scores": {"s": 0.5},
    "raw": b"\x00\xff",
    "flag": True,
    "parts": [{"label": "a", "w": 1.0}],
    "again": "B",
}

check = compile_validator(SCHEMA)


def test_a_conforming_record_passes() -> None:
    assert check(GOOD) is None


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"amount": 12}, None),  # int is a valid double
        ({"amount": np.float64(1.5), "count": np.int64(2)}, None),  # numpy scalars
        (
            {"at": datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)},
            "at: expected long, got datetime datetime.datetime(2024, 1, 1, 0, 0, t...",
        ),
        ({"raw": bytearray(b"ab")}, None),
        ({"amount": "12"}, "amount: expected double, got str '12'"),
        ({"amount": True}, "amount: expected double, got bool True"),
        ({"amount": None}, "amount: expected double, got NoneType None"),
        ({"count": 1.7}, "count: expected int, got float 1.7"),
        ({"count": True}, "count: expected int, got bool True"),
        ({"count": 2**31}, "count: 2147483648 is out of range for int"),
        ({"at": 2**63}, "at: 9223372036854775808 is out of range for long"),
        ({"at": "2024-01-01"}, "at: expected long, got str '2024-01-01'"),
        ({"id": b"p1"}, "id: expected string, got bytes b'p1'"),
        ({"note": 5}, "note: expected one of [null, string], got int 5"),
        ({"kind": "C"}, "kind: expected one of the Kind symbols ['A', 'B'], got str 'C'"),
        ({"tags": "x"}, "tags: expected array, got str 'x'"),
        ({"tags": ["x", 2]}, "tags[1]: expected string, got int 2"),
        ({"scores": {"s": "high"}}, "scores['s']: expected double, got str 'high'"),
        ({"scores": {1: 0.5}}, "scores: expected string map key, got int 1"),
        ({"flag": 1}, "flag: expected boolean, got int 1"),
        ({"parts": [{"label": "a", "w": "x"}]}, "parts[0].w: expected float, got str 'x'"),
        (
            {"parts": [{"label": "a"}]},
            "parts[0].w: missing (the field is required and has no default)",
        ),
        ({"again": "Z"}, "again: expected one of [null, Kind], got str 'Z'"),
        ({"merchant_idd": "typo"}, "merchant_idd: unknown field (not in the schema)"),
    ],
)
def test_each_mistake_is_named(change: dict[str, Any], expected: str | None) -> None:
    problem = check({**GOOD, **change})
    assert (None if problem is None else str(problem)) == expected


def test_missing_required_field_is_named_and_defaults_make_fields_optional() -> None:
    record = {k: v for k, v in GOOD.items() if k not in ("id", "note", "tags")}
    assert str(check(record)) == "id: missing (the field is required and has no default)"
    record["id"] = "p2"
    assert check(record) is None


def test_a_non_mapping_record_is_rejected() -> None:
    assert str(check(["not", "a", "record"])) == (
        "<record>: expected a record (mapping), got list ['not', 'a', 'record']"
    )


def test_long_values_are_shortened_in_messages() -> None:
    assert str(check({**GOOD, "id": 7 * 10**50})) == (
        "id: expected string, got int 7000000000000000000000000000000000000..."
    )


def test_recursive_records_are_supported() -> None:
    node = {
        "type": "record",
        "name": "Node",
        "fields": [
            {"name": "value", "type": "int"},
            {"name": "next", "type": ["null", "Node"], "default": None},
        ],
    }
    check_node = compile_validator(node)
    assert check_node({"value": 1, "next": {"value": 2, "next": None}}) is None
    assert str(check_node({"value": 1, "next": {"value": "x"}})) == (
        "next: expected one of [null, Node], got dict {'value': 'x'}"
    )


def test_unknown_type_names_are_schema_errors() -> None:
    with pytest.raises(SchemaError, match="unknown Avro type 'Missing'"):
        compile_validator(
            {"type": "record", "name": "R", "fields": [{"name": "a", "type": "Missing"}]}
        )


def test_bundled_fraud_score_contributions_are_checked_deeply() -> None:
    check_score = compile_validator(find("FraudScore").json)
    score = {
        "transaction_id": "t",
        "user_id": "u",
        "merchant_id": None,
        "amount": 1.0,
        "event_time": 1,
        "produced_time": 2,
        "decided_time": 3,
        "score": 0.4,
        "risk_level": "LOW",
        "decision": "APPROVE",
        "model_version": None,
        "reasons": [],
        "contributions": [{"feature": "amount_z", "value": 0.1}, {"feature": "x", "value": "y"}],
    }
    assert str(check_score(score)) == "contributions[1].value: expected double, got str 'y'"
