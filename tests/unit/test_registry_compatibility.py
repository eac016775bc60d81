"""The compatibility table: schema evolutions x the seven levels, with Avro's own resolution rules.

Each row is an evolution from ``old`` to ``new`` and the expected verdict per level, in the order
NONE, BACKWARD, BACKWARD_TRANSITIVE, FORWARD, FORWARD_TRANSITIVE, FULL, FULL_TRANSITIVE
(``Y`` compatible, ``n`` not). With a single earlier version, transitive equals non-transitive;
the transitive cases with three versions follow the table.
"""

from __future__ import annotations

import json
from typing import Any

import avro.schema
import pytest

from stream_sentinel.errors import RegistryError
from stream_sentinel.registry_server.compatibility import Level, PreviousVersion, check
from stream_sentinel.registry_server.core import RegistryCore
from stream_sentinel.registry_server.store import MemoryLog

LEVELS = [
    Level.NONE,
    Level.BACKWARD,
    Level.BACKWARD_TRANSITIVE,
    Level.FORWARD,
    Level.FORWARD_TRANSITIVE,
    Level.FULL,
    Level.FULL_TRANSITIVE,
]


def rec(*fields: dict[str, Any], name: str = "Payment", **extra: Any) -> dict[str, Any]:
    return {"type": "record", "name": name, "namespace": "io.test", "fields": list(fields), **extra}


def f(name: str, kind: Any, **extra: Any) -> dict[str, Any]:
    return {"name": name, "type": kind, **extra}


def enum(*symbols: str, **extra: Any) -> dict[str, Any]:
    return {"type": "enum", "name": "Kind", "symbols": list(symbols), **extra}


ID = f("id", "string")
NESTED_V1 = {"type": "record", "name": "Geo", "fields": [f("lat", "double")]}
NESTED_V2 = {"type": "record", "name": "Geo", "fields": [f("lat", "double"), f("lon", "double")]}

TABLE: list[tuple[str, dict[str, Any], dict[str, Any], str]] = [
    (
        "add optional field",
        rec(ID),
        rec(ID, f("note", ["null", "string"], default=None)),
        "YYYYYYY",
    ),
    ("add field without default", rec(ID), rec(ID, f("note", "string")), "YnnYYnn"),
    ("remove field without default", rec(ID, f("note", "string")), rec(ID), "YYYnnnn"),
    ("remove field with default", rec(ID, f("note", "string", default="")), rec(ID), "YYYYYYY"),
    ("promote int to long", rec(f("n", "int")), rec(f("n", "long")), "YYYnnnn"),
    ("narrow long to int", rec(f("n", "long")), rec(f("n", "int")), "YnnYYnn"),
    ("promote float to double", rec(f("x", "float")), rec(f("x", "double")), "YYYnnnn"),
    ("promote int to double", rec(f("x", "int")), rec(f("x", "double")), "YYYnnnn"),
    ("string to bytes", rec(f("s", "string")), rec(f("s", "bytes")), "YYYYYYY"),
    ("add enum symbol", rec(f("k", enum("A", "B"))), rec(f("k", enum("A", "B", "C"))), "YYYnnnn"),
    (
        "add enum symbol, old enum has a default",
        rec(f("k", enum("A", "B", default="A"))),
        rec(f("k", enum("A", "B", "C", default="A"))),
        "YYYYYYY",
    ),
    (
        "remove enum symbol",
        rec(f("k", enum("A", "B", "C"))),
        rec(f("k", enum("A", "B"))),
        "YnnYYnn",
    ),
    (
        "widen a union",
        rec(f("v", ["null", "string"])),
        rec(f("v", ["null", "string", "int"])),
        "YYYnnnn",
    ),
    (
        "narrow a union",
        rec(f("v", ["null", "string", "int"])),
        rec(f("v", ["null", "string"])),
        "YnnYYnn",
    ),
    ("make a field nullable", rec(f("v", "string")), rec(f("v", ["null", "string"])), "YYYnnnn"),
    (
        "rename the record with an alias",
        rec(ID),
        rec(ID, name="Charge", aliases=["io.test.Payment"]),
        "YYYnnnn",
    ),
    ("rename the record without alias", rec(ID), rec(ID, name="Charge"), "Ynnnnnn"),
    (
        "rename a field with an alias",
        rec(f("note", "string")),
        rec(f("memo", "string", aliases=["note"])),
        "YYYnnnn",
    ),
    (
        "nested record gains a required field",
        rec(f("geo", NESTED_V1)),
        rec(f("geo", NESTED_V2)),
        "YnnYYnn",
    ),
    (
        "map values int to long",
        rec(f("m", {"type": "map", "values": "int"})),
        rec(f("m", {"type": "map", "values": "long"})),
        "YYYnnnn",
    ),
    (
        "array items string to int",
        rec(f("a", {"type": "array", "items": "string"})),
        rec(f("a", {"type": "array", "items": "int"})),
        "Ynnnnnn",
    ),
    ("field type string to int", rec(f("s", "string")), rec(f("s", "int")), "Ynnnnnn"),
    (
        "fixed size changes",
        rec(f("h", {"type": "fixed", "name": "Hash", "size": 16})),
        rec(f("h", {"type": "fixed", "name": "Hash", "size": 32})),
        "Ynnnnnn",
    ),
]


def _previous(*schemas: dict[str, Any]) -> list[PreviousVersion]:
    return [
        PreviousVersion(number, json.dumps(s), avro.schema.parse(json.dumps(s)))
        for number, s in enumerate(schemas, start=1)
    ]


def _verdicts(old: dict[str, Any], new: dict[str, Any]) -> str:
    candidate = avro.schema.parse(json.dumps(new))
    return "".join("n" if check(level, candidate, _previous(old)) else "Y" for level in LEVELS)


@pytest.mark.parametrize(
    ("old", "new", "expected"), [row[1:] for row in TABLE], ids=[row[0] for row in TABLE]
)
def test_compatibility_table(old: dict[str, Any], new: dict[str, Any], expected: str) -> None:
    assert _verdicts(old, new) == expected


@pytest.mark.parametrize(
    ("old", "new", "expected"), [row[1:] for row in TABLE], ids=[row[0] for row in TABLE]
)
def test_the_registry_applies_the_table(
    old: dict[str, Any], new: dict[str, Any], expected: str
) -> None:
    for level, verdict in zip(LEVELS, expected, strict=True):
        core = RegistryCore(MemoryLog())
        core.set_config(level)
        core.register("s-value", json.dumps(old))
        if verdict == "Y":
            assert core.register("s-value", json.dumps(new)).version == 2
        else:
            with pytest.raises(RegistryError) as error:
                core.register("s-value", json.dumps(new))
            assert (error.value.error_code, error.value.http_status) == (409, 409)
            assert core.versions("s-value") == [1]


# Three-version histories where the newest candidate agrees with the latest version only.
OPT_X = f("x", "int", default=0)
REQ_X = f("x", "int")
TRANSITIVE: list[tuple[str, list[dict[str, Any]], dict[str, Any], str]] = [
    # v3 reads v2 (x is there) but not v1 (x missing, no default).
    (
        "backward: a default is dropped after the field appeared",
        [rec(ID), rec(ID, OPT_X)],
        rec(ID, REQ_X),
        "YYnYYYn",
    ),
    # v2 reads v3 (x defaults) but v1 cannot (x required).
    (
        "forward: a field removed once it had a default",
        [rec(ID, REQ_X), rec(ID, OPT_X)],
        rec(ID),
        "YYYYnYn",
    ),
    # A changed default breaks no reader, at any depth of history.
    (
        "a changed default",
        [rec(ID, REQ_X), rec(ID, OPT_X)],
        rec(ID, f("x", "int", default=1)),
        "YYYYYYY",
    ),
    # Both directions fine against v2 (x defaults either way); v1 cannot read v3 data.
    (
        "full transitive: the oldest reader needs x",
        [rec(ID, REQ_X), rec(ID, OPT_X)],
        rec(ID, f("y", "int", default=0)),
        "YYYYnYn",
    ),
]


@pytest.mark.parametrize(
    ("history", "new", "expected"),
    [row[1:] for row in TRANSITIVE],
    ids=[row[0] for row in TRANSITIVE],
)
def test_transitive_levels_check_every_version(
    history: list[dict[str, Any]], new: dict[str, Any], expected: str
) -> None:
    candidate = avro.schema.parse(json.dumps(new))
    previous = _previous(*history)
    verdicts = "".join("n" if check(level, candidate, previous) else "Y" for level in LEVELS)
    assert verdicts == expected


def test_transitive_rejection_names_the_old_version_that_breaks() -> None:
    core = RegistryCore(MemoryLog())
    core.set_config("NONE")
    core.register("s-value", json.dumps(rec(ID)))
    core.register("s-value", json.dumps(rec(ID, OPT_X)))
    core.set_config("BACKWARD_TRANSITIVE")
    verdict = core.test_compatibility("s-value", json.dumps(rec(ID, REQ_X)))
    assert verdict.is_compatible is False
    assert verdict.messages[0] == (
        "{errorType:'READER_FIELD_MISSING_DEFAULT_VALUE', description:'The field 'x' at path "
        "'/fields/1' in the new schema has no default value and is missing in the old schema', "
        "additionalInfo:'x'}"
    )
    assert verdict.messages[1] == "{oldSchemaVersion: 1}"
    assert verdict.messages[-1] == "{compatibility: 'BACKWARD_TRANSITIVE'}"
    core.set_config("BACKWARD")
    assert core.register("s-value", json.dumps(rec(ID, REQ_X))).version == 3


def test_forward_messages_say_the_old_schema_reads() -> None:
    old = avro.schema.parse(json.dumps(rec(ID, REQ_X)))
    messages = check(
        Level.FORWARD, avro.schema.parse(json.dumps(rec(ID))), [PreviousVersion(4, "{}", old)]
    )
    assert messages == [
        "{errorType:'READER_FIELD_MISSING_DEFAULT_VALUE', description:'The field 'x' at path "
        "'/fields/1' in the old schema has no default value and is missing in the new schema', "
        "additionalInfo:'x'}",
        "{oldSchemaVersion: 4}",
        "{oldSchema: '{}'}",
        "{compatibility: 'FORWARD'}",
    ]


def test_level_names_parse_in_any_case() -> None:
    assert [Level.parse(name) for name in ("none", "Full_Transitive", " backward ")] == [
        Level.NONE,
        Level.FULL_TRANSITIVE,
        Level.BACKWARD,
    ]
    assert (Level.FULL.backward, Level.FULL.forward, Level.FULL.transitive) == (True, True, False)
    assert Level.FORWARD_TRANSITIVE.without_transitivity is Level.FORWARD
