"""The registry's `_schemas` log over the Broker interface (here the embedded broker)."""

from __future__ import annotations

from stream_sentinel.config import load_settings
from stream_sentinel.registry_server.core import RegistryCore
from stream_sentinel.registry_server.service import open_core, open_log
from stream_sentinel.registry_server.store import MemoryLog, TopicLog
from stream_sentinel.transport.base import TopicInfo
from stream_sentinel.transport.memory import MemoryBroker

V1 = '{"type":"record","name":"P","fields":[{"name":"id","type":"string"}]}'
V2 = (
    '{"type":"record","name":"P","fields":[{"name":"id","type":"string"},'
    '{"name":"n","type":["null","int"],"default":null}]}'
)


def test_the_topic_is_created_once_compacted_with_one_partition() -> None:
    broker = MemoryBroker()
    log = TopicLog(broker, "_schemas")
    assert log.ensure_topic() is True
    assert log.ensure_topic() is False
    assert broker.admin().describe_topics(["_schemas"]) == {
        "_schemas": TopicInfo(
            "_schemas", 1, {"compression.type": "lz4", "cleanup.policy": "compact"}
        )
    }


def test_a_new_registry_on_the_same_topic_sees_everything() -> None:
    broker = MemoryBroker()
    log = TopicLog(broker, "_schemas")
    log.ensure_topic()
    first = RegistryCore(log)
    assert first.register("p-value", V1).schema_id == 1
    assert first.register("p-value", V2).schema_id == 2
    first.set_config("FULL", "p-value")
    first.delete_version("p-value", 1)
    log.close()

    restarted = RegistryCore(TopicLog(broker, "_schemas"))
    assert restarted.versions("p-value") == [2]
    assert restarted.versions("p-value", deleted=True) == [1, 2]
    assert restarted.get_config("p-value").value == "FULL"
    assert restarted.schema_by_id(1) == V1
    assert restarted.register("q-value", '"string"').schema_id == 3


def test_records_are_keyed_on_partition_zero_in_order() -> None:
    broker = MemoryBroker()
    log = TopicLog(broker, "_schemas")
    log.ensure_topic()
    log.append([(b"k1", b"v1"), (b"k2", None), (b"k1", b"v3")])
    assert list(log.read_all()) == [(b"k1", b"v1"), (b"k2", None), (b"k1", b"v3")]


def test_an_empty_topic_reads_as_an_empty_log() -> None:
    broker = MemoryBroker()
    log = TopicLog(broker, "_schemas")
    log.ensure_topic()
    assert list(log.read_all()) == []
    assert RegistryCore(log).subjects() == []


def test_the_service_wiring_honours_the_topic_prefix() -> None:
    settings = load_settings("test", environ={}, overrides={"kafka": {"topic_prefix": "dev-"}})
    broker = MemoryBroker()
    log = open_log(settings, broker)
    core = open_core(log, timeout_s=1.0)
    core.register("p-value", V1)
    assert list(broker.admin().describe_topics()) == ["dev-_schemas"]
    assert isinstance(open_log(settings, None), MemoryLog)
