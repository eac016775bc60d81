"""Registry semantics: ids, versions, deletes, configs, modes, and rebuilding from the log."""

from __future__ import annotations

import json
from collections.abc import Sequence

import pytest

from stream_sentinel.errors import RegistryError
from stream_sentinel.registry.client import CompatibilityVerdict, RegisteredSchema
from stream_sentinel.registry_server.compatibility import Level
from stream_sentinel.registry_server.core import RegistryCore, parse_version
from stream_sentinel.registry_server.state import LogRecord
from stream_sentinel.registry_server.store import MemoryLog


def record(*fields: str, name: str = "Payment") -> str:
    """A record schema whose fields are strings (``"x:int"`` for other types, ``"x?"`` optional)."""
    built = []
    for spec in fields:
        optional = spec.endswith("?")
        field_name, _, kind = spec.rstrip("?").partition(":")
        entry: dict[str, object] = {"name": field_name, "type": kind or "string"}
        if optional:
            entry = {"name": field_name, "type": ["null", kind or "string"], "default": None}
        built.append(entry)
    return json.dumps({"type": "record", "name": name, "fields": built}, separators=(",", ":"))


V1 = record("id")
V2 = record("id", "note?")
V3 = record("id", "note?", "tag?")
BREAKING = record("id", "required_new")


def error_of(call: object, *args: object, **kwargs: object) -> tuple[int, int, str]:
    with pytest.raises(RegistryError) as caught:
        call(*args, **kwargs)  # type: ignore[operator]
    return caught.value.error_code, caught.value.http_status, str(caught.value)


@pytest.fixture
def log() -> MemoryLog:
    return MemoryLog()


@pytest.fixture
def core(log: MemoryLog) -> RegistryCore:
    return RegistryCore(log)


def test_versions_count_up_and_ids_are_global(core: RegistryCore) -> None:
    assert core.register("a-value", V1) == RegisteredSchema("a-value", 1, 1, V1)
    assert core.register("a-value", V2) == RegisteredSchema("a-value", 2, 2, V2)
    assert core.register("b-value", V3) == RegisteredSchema("b-value", 1, 3, V3)
    assert core.subjects() == ["a-value", "b-value"]
    assert core.versions("a-value") == [1, 2]


def test_the_same_schema_registered_twice_is_the_same_version(core: RegistryCore) -> None:
    first = core.register("a-value", V1)
    core.register("a-value", V2)
    assert core.register("a-value", V1) == first
    assert core.versions("a-value") == [1, 2]


def test_formatting_does_not_make_a_new_schema(core: RegistryCore) -> None:
    pretty = json.dumps(json.loads(V1), indent=4, sort_keys=True)
    assert core.register("a-value", V1).schema_id == core.register("a-value", pretty).schema_id
    assert core.versions("a-value") == [1]


def test_identical_schemas_in_two_subjects_share_one_id(core: RegistryCore) -> None:
    assert core.register("a-value", V1).schema_id == core.register("b-value", V1).schema_id == 1
    assert core.id_versions(1) == [("a-value", 1), ("b-value", 1)]
    assert core.id_subjects(1) == ["a-value", "b-value"]


def test_stored_text_is_compact_json(core: RegistryCore) -> None:
    registered = core.register("a-value", '{ "type" : "string" }')
    assert registered.schema == '{"type":"string"}'
    assert core.schema_by_id(registered.schema_id) == '{"type":"string"}'


def test_get_version_by_number_latest_and_minus_one(core: RegistryCore) -> None:
    core.register("a-value", V1)
    core.register("a-value", V2)
    assert core.get_version("a-value", 1).schema == V1
    assert core.get_version("a-value", "latest").version == 2
    assert core.get_version("a-value", "-1").version == 2


@pytest.mark.parametrize("bad", ["0", "-5", "abc", "2147483648", "1.5"])
def test_invalid_versions_are_42202(core: RegistryCore, bad: str) -> None:
    core.register("a-value", V1)
    assert error_of(core.get_version, "a-value", bad) == (
        42202,
        422,
        f"The specified version '{bad}' is not a valid version id. Allowed values are between "
        '[1, 2^31-1] and the string "latest"',
    )


def test_parse_version() -> None:
    assert [parse_version(v) for v in ("latest", "LATEST", "-1", "1", " 7 ", 2**31 - 1)] == [
        None,
        None,
        None,
        1,
        7,
        2**31 - 1,
    ]


def test_unknown_subject_version_and_schema(core: RegistryCore) -> None:
    core.register("a-value", V1)
    assert error_of(core.versions, "nope") == (40401, 404, "Subject 'nope' not found.")
    assert error_of(core.get_version, "a-value", 9) == (40402, 404, "Version 9 not found.")
    assert error_of(core.schema_by_id, 42) == (40403, 404, "Schema 42 not found")
    assert error_of(core.lookup, "a-value", V2) == (40403, 404, "Schema not found")
    assert error_of(core.lookup, "nope", V1) == (40401, 404, "Subject 'nope' not found.")


def test_lookup_finds_the_version_holding_a_schema(core: RegistryCore) -> None:
    core.register("a-value", V1)
    core.register("a-value", V2)
    assert core.lookup("a-value", V1) == RegisteredSchema("a-value", 1, 1, V1)


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        (
            "{nope",
            "Invalid schema: the schema is not valid JSON (Expecting property name enclosed "
            "in double quotes: line 1 column 2 (char 1))",
        ),
        (
            '{"type": "record", "name": "R", "fields": [{"name": "a", "type": "foo"}]}',
            'Invalid schema: Type property "foo" not a valid Avro schema: Could not make an Avro '
            "Schema object from foo",
        ),
        (
            '{"type": "record", "name": "R", "fields": [{"name": "a", "type": "int", '
            '"default": "x"}]}',
            "Invalid schema: Default value <x> must match schema type: int",
        ),
        (
            '{"type": "record", "name": "R", "fields": [{"name": "a", "type": ["null", "string"], '
            '"default": "x"}]}',
            "Invalid schema: the default of field 'a' must match the first type of its union "
            '("null"), got "x"',
        ),
        ("", "Empty schema"),
        ("  ", "Empty schema"),
    ],
)
def test_invalid_schemas_are_42201_and_change_nothing(
    core: RegistryCore, log: MemoryLog, schema: str, message: str
) -> None:
    assert error_of(core.register, "a-value", schema) == (42201, 422, message)
    assert (core.subjects(), log.records) == ([], [])


def test_other_schema_types_and_missing_references_are_refused(core: RegistryCore) -> None:
    assert error_of(core.register, "a-value", '{"type": "object"}', "JSON")[0] == 42201
    refs = [{"name": "x", "subject": "y", "version": 1}]
    assert error_of(core.register, "a-value", V1, None, refs) == (
        42201,
        422,
        "Invalid schema: the reference to subject 'y' version 1 does not exist; register the "
        "referenced schema first",
    )


def test_an_incompatible_schema_is_409_and_not_registered(
    core: RegistryCore, log: MemoryLog
) -> None:
    core.register("a-value", V1)
    written = len(log.records)
    code, status, message = error_of(core.register, "a-value", BREAKING)
    assert (code, status) == (409, 409)
    assert message.startswith(
        'Schema being registered is incompatible with an earlier schema for subject "a-value", '
        "details: [{errorType:'READER_FIELD_MISSING_DEFAULT_VALUE', description:'The field "
        "'required_new' at path '/fields/1' in the new schema has no default value and is "
        "missing in the old schema', additionalInfo:'required_new'}, {oldSchemaVersion: 1}, "
    )
    assert message.endswith("{compatibility: 'BACKWARD'}]")
    assert (core.versions("a-value"), len(log.records)) == ([1], written)


def test_subject_config_overrides_the_global_one(core: RegistryCore) -> None:
    core.register("a-value", V1)
    assert core.set_config("none", "a-value") is Level.NONE
    assert core.register("a-value", BREAKING).version == 2
    assert core.get_config() is Level.BACKWARD
    assert core.get_config("a-value") is Level.NONE
    assert core.delete_config("a-value") is Level.NONE
    assert error_of(core.get_config, "a-value")[:2] == (40408, 404)
    assert core.get_config("a-value", default_to_global=True) is Level.BACKWARD


def test_global_config_set_and_reset(core: RegistryCore) -> None:
    assert core.set_config("full_transitive") is Level.FULL_TRANSITIVE
    assert core.get_config() is Level.FULL_TRANSITIVE
    assert core.delete_config() is Level.FULL_TRANSITIVE
    assert core.get_config() is Level.BACKWARD
    assert error_of(core.set_config, "SIDEWAYS") == (
        42203,
        422,
        "Invalid compatibility level. Valid values are none, backward, forward, full, "
        "backward_transitive, forward_transitive, and full_transitive",
    )


def test_soft_delete_then_hard_delete_of_a_subject(core: RegistryCore) -> None:
    core.register("a-value", V1)
    core.register("a-value", V2)
    assert error_of(core.delete_subject, "a-value", permanent=True)[:2] == (40405, 404)
    assert core.delete_subject("a-value") == [1, 2]
    assert core.subjects() == []
    assert core.subjects(deleted=True) == ["a-value"]
    assert core.versions("a-value", deleted=True) == [1, 2]
    assert error_of(core.versions, "a-value")[:2] == (40401, 404)
    assert core.schema_by_id(1) == V1  # ids stay resolvable for consumers of old data
    assert error_of(core.delete_subject, "a-value")[:2] == (40404, 404)
    assert core.delete_subject("a-value", permanent=True) == [1, 2]
    assert core.subjects(deleted=True) == []
    assert error_of(core.schema_by_id, 1)[:2] == (40403, 404)


def test_re_registering_after_a_soft_delete_makes_a_new_version_same_id(
    core: RegistryCore,
) -> None:
    core.register("a-value", V1)
    core.delete_subject("a-value")
    assert core.register("a-value", V1) == RegisteredSchema("a-value", 2, 1, V1)


def test_ids_are_never_reused_after_a_hard_delete(core: RegistryCore) -> None:
    core.register("a-value", V1)
    core.register("a-value", V2)
    core.delete_subject("a-value")
    core.delete_subject("a-value", permanent=True)
    assert core.register("b-value", V3).schema_id == 3
    assert core.register("a-value", V1) == RegisteredSchema("a-value", 1, 4, V1)


def test_deleting_one_version_soft_then_hard(core: RegistryCore) -> None:
    for schema in (V1, V2, V3):
        core.register("a-value", schema)
    assert error_of(core.delete_version, "a-value", 2, permanent=True) == (
        40407,
        404,
        "Subject 'a-value' Version 2 was not deleted first before being permanently deleted",
    )
    assert core.delete_version("a-value", 2) == 2
    assert core.versions("a-value") == [1, 3]
    # soft-deleting it again: Confluent's "was soft deleted" (40406), not "not found"
    assert error_of(core.delete_version, "a-value", 2)[:2] == (40406, 404)
    assert core.get_version("a-value", 2, deleted=True).schema == V2
    assert core.delete_version("a-value", 2, permanent=True) == 2
    assert core.versions("a-value", deleted=True) == [1, 3]
    assert core.delete_version("a-value", "latest") == 3
    assert core.get_version("a-value").version == 1
    assert error_of(core.delete_version, "a-value", "0")[:2] == (42202, 422)


def test_deleted_versions_do_not_take_part_in_compatibility(core: RegistryCore) -> None:
    core.register("a-value", V1)
    core.set_config("NONE", "a-value")
    core.register("a-value", record("other"))
    core.set_config("BACKWARD", "a-value")
    assert core.test_compatibility("a-value", V1).is_compatible is False
    core.delete_version("a-value", 2)
    assert core.test_compatibility("a-value", V1) == CompatibilityVerdict(True, ())


def test_compatibility_against_one_version_or_per_level(core: RegistryCore) -> None:
    core.register("a-value", V1)
    assert core.test_compatibility("a-value", V2, "latest").is_compatible is True
    verdict = core.test_compatibility("a-value", BREAKING, "1")
    assert verdict.is_compatible is False
    assert verdict.messages[1:] == (
        "{oldSchemaVersion: 1}",
        f"{{oldSchema: '{V1}'}}",
        "{compatibility: 'BACKWARD'}",
    )
    assert core.test_compatibility("new-value", BREAKING) == CompatibilityVerdict(True, ())
    # Confluent: "latest" of a subject with no versions is compatible; a numbered one is 40402.
    assert core.test_compatibility("new-value", V1, "latest") == CompatibilityVerdict(True, ())
    assert error_of(core.test_compatibility, "new-value", V1, "3") == (
        40402,
        404,
        "Version 3 not found.",
    )
    assert error_of(core.test_compatibility, "a-value", V1, "7")[:2] == (40402, 404)
    assert error_of(core.test_compatibility, "a-value", V1, "0")[:2] == (42202, 422)
    assert error_of(core.test_compatibility, "a-value", "{bad")[:2] == (42201, 422)


def test_read_only_mode_refuses_writes(core: RegistryCore) -> None:
    core.register("a-value", V1)
    assert core.set_mode("readonly") == "READONLY"
    assert error_of(core.register, "a-value", V2) == (
        42205,
        422,
        "Subject a-value is in read-only mode",
    )
    assert error_of(core.delete_subject, "a-value")[:2] == (42205, 422)
    assert core.get_version("a-value").version == 1
    assert core.set_mode("READWRITE") == "READWRITE"
    assert core.register("a-value", V2).version == 2
    assert error_of(core.set_mode, "SLEEPY")[:2] == (42204, 422)


def test_import_mode_keeps_given_ids_and_versions(core: RegistryCore) -> None:
    assert core.set_mode("IMPORT") == "IMPORT"
    assert core.register("a-value", V1, schema_id=100, version=5) == RegisteredSchema(
        "a-value", 5, 100, V1
    )
    assert error_of(core.register, "b-value", V2, schema_id=100)[2] == (
        "Overwrite new schema with id 100 is not permitted."
    )
    core.set_mode("READWRITE")
    assert core.register("a-value", V2) == RegisteredSchema("a-value", 6, 101, V2)
    assert error_of(core.register, "a-value", V3, schema_id=7)[:2] == (42205, 422)
    assert error_of(core.set_mode, "IMPORT")[2] == "Cannot import since found existing subjects"
    assert core.set_mode("IMPORT", force=True) == "IMPORT"


def _populate(core: RegistryCore) -> None:
    core.register("a-value", V1)
    core.register("a-value", V2)
    core.register("b-value", V1)
    core.register("c-value", V3)
    core.set_config("FULL", "a-value")
    core.set_config("FORWARD")
    core.delete_version("a-value", 1)
    core.delete_subject("c-value")
    core.delete_subject("c-value", permanent=True)


def _snapshot(core: RegistryCore) -> object:
    subjects = core.subjects(deleted=True)
    return (
        subjects,
        {
            s: [core.get_version(s, v, deleted=True) for v in core.versions(s, deleted=True)]
            for s in subjects
        },
        core.get_config(),
        core.get_config("a-value"),
        core.get_mode(),
    )


def test_a_restart_replays_the_log_into_the_same_state(core: RegistryCore, log: MemoryLog) -> None:
    _populate(core)
    again = RegistryCore(log)
    assert _snapshot(again) == _snapshot(core)
    assert again.register("d-value", record("fresh")).schema_id == 4


def compacted(records: Sequence[LogRecord]) -> list[LogRecord]:
    """What Kafka's log compaction leaves: the last value per key, tombstones removed."""
    latest: dict[bytes, bytes | None] = {}
    for key, value in records:
        latest.pop(key, None)
        latest[key] = value
    return [(key, value) for key, value in latest.items() if value is not None]


def test_state_survives_compaction_and_ids_are_still_not_reused(
    core: RegistryCore, log: MemoryLog
) -> None:
    _populate(core)  # hard-deleted c-value held the highest id (3)
    squeezed = MemoryLog()
    squeezed.records = compacted(log.records)
    again = RegistryCore(squeezed)
    assert _snapshot(again) == _snapshot(core)
    assert again.register("d-value", record("fresh")).schema_id == 4


def test_log_records_use_confluents_key_layout(core: RegistryCore, log: MemoryLog) -> None:
    core.register("a-value", '"string"')
    core.set_config("FULL", "a-value")
    assert log.records == [
        (
            b'{"keytype":"SCHEMA","subject":"a-value","version":1,"magic":1}',
            b'{"subject":"a-value","version":1,"id":1,"schema":"\\"string\\"","deleted":false}',
        ),
        (b'{"keytype":"CONFIG","subject":"a-value","magic":0}', b'{"compatibilityLevel":"FULL"}'),
    ]


def test_malformed_or_unknown_log_records_are_skipped(log: MemoryLog) -> None:
    log.records = [
        (b"not json", b"{}"),
        (b'{"keytype":"SOMETHING_NEW","magic":0}', b"{}"),
        (
            b'{"keytype":"SCHEMA","subject":"a-value","version":1,"magic":1}',
            b'{"subject":"a-value","version":1,"id":1,"schema":"\\"string\\"","deleted":false}',
        ),
    ]
    assert RegistryCore(log).subjects() == ["a-value"]


class FailingLog(MemoryLog):
    def append(self, records: Sequence[LogRecord]) -> None:
        from stream_sentinel.registry_server import errors

        raise errors.store_error("writing _schemas failed: Broker: Not enough in-sync replicas")


def test_a_store_failure_is_50001_and_changes_nothing() -> None:
    core = RegistryCore(FailingLog())
    assert error_of(core.register, "a-value", V1) == (
        50001,
        500,
        "Error in the backend datastore: writing _schemas failed: Broker: Not enough in-sync "
        "replicas",
    )
    assert core.subjects(deleted=True) == []


def test_a_schema_nested_too_deeply_is_an_invalid_schema(core: RegistryCore) -> None:
    deep = '"int"'
    for _ in range(2000):
        deep = '{"type": "array", "items": ' + deep + "}"
    assert error_of(core.register, "deep-value", deep)[:2] == (42201, 422)
