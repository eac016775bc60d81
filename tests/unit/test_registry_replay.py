"""Following the log (issue 15, items 7 and 8): a replica applies whatever is in `_schemas`, even
records today's validation refuses, and instances sharing a log see each other's writes."""

from __future__ import annotations

import logging

import pytest

from stream_sentinel.errors import RegistryError
from stream_sentinel.registry_server.core import RegistryCore
from stream_sentinel.registry_server.follower import TailingFollower
from stream_sentinel.registry_server.replica import Replica
from stream_sentinel.registry_server.state import VersionEntry, schema_record
from stream_sentinel.registry_server.store import MemoryLog

LEGACY = '{"type":"record","name":"legacy-payment","fields":[{"name":"id","type":"string"}]}'
LEGACY_EVOLVED = (
    '{"type":"record","name":"legacy-payment","fields":[{"name":"id","type":"string"},'
    '{"name":"note","type":["null","string"],"default":null}]}'
)
V1 = '{"type":"record","name":"Payment","fields":[{"name":"id","type":"string"}]}'


def legacy_log() -> MemoryLog:
    log = MemoryLog()
    log.records = [
        schema_record(VersionEntry("legacy-value", 1, 7), LEGACY),
        (b'{"keytype":"SCHEMA","subject":"broken","version":1,"magic":1}', b"{not json"),
        (b'["a key that is a list"]', b"{}"),
        schema_record(VersionEntry("junk-value", 1, 8), '{"type": "no such type"}'),
    ]
    return log


def test_a_legacy_record_does_not_block_later_registrations(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING):
        core = RegistryCore(legacy_log())
        assert core.subjects() == ["junk-value", "legacy-value"]
        assert core.register("fresh-value", V1).schema_id == 9
    assert "skipping malformed _schemas record" in caplog.text
    assert "fails today's validation" in caplog.text
    assert "is not valid Avro" in caplog.text


def test_a_legacy_schema_keeps_its_id_and_is_found_but_new_ones_meet_todays_rules() -> None:
    core = RegistryCore(legacy_log())
    assert core.lookup("legacy-value", LEGACY).schema_id == 7
    assert core.get_version("legacy-value", 1).schema == LEGACY
    assert core.schema_by_id(8) == '{"type": "no such type"}'
    # New schemas are held to today's rules, as Confluent's parser holds them.
    with pytest.raises(RegistryError) as caught:
        core.register("legacy-value", LEGACY_EVOLVED)
    assert caught.value.error_code == 42201


def test_a_subject_whose_stored_version_is_not_avro_still_takes_new_versions() -> None:
    core = RegistryCore(legacy_log())
    registered = core.register("junk-value", V1)
    assert (registered.version, registered.schema_id) == (2, 9)


def test_a_second_instance_tailing_the_log_sees_the_first_ones_writes() -> None:
    log = MemoryLog()
    writer = RegistryCore(log)
    replica = Replica()
    follower = TailingFollower(log, replica, timeout_s=5.0)
    reader = RegistryCore(log, follower=follower, replica=replica)
    follower.start()
    try:
        schema_id = writer.register("pay-value", V1).schema_id
        assert reader.get_version("pay-value", "latest").schema_id == schema_id  # no waiting
        writer.set_config("FULL", "pay-value")
        assert reader.get_config("pay-value").value == "FULL"  # applied by the follower
    finally:
        follower.close()


def test_the_replica_applies_each_offset_once_and_in_order() -> None:
    replica = Replica()
    key, value = schema_record(VersionEntry("a", 1, 1), '"int"')
    replica.apply(0, key, value)
    replica.apply(0, key, None)  # a replay of offset 0: ignored
    assert (replica.position, list(replica.state.subjects)) == (1, ["a"])
    replica.advance(5)  # a transaction marker at 1..4
    assert replica.wait_for(5, timeout_s=0.0) is True
    assert replica.wait_for(6, timeout_s=0.0) is False
