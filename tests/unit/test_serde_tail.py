"""`tail`'s reader and printer over the embedded broker: decoded JSON lines, key filter, errors."""

from __future__ import annotations

import json

import pytest

from stream_sentinel.commands.tail import RecordPrinter, matching, open_reader
from stream_sentinel.errors import UsageError
from stream_sentinel.registry_server.local_client import LocalRegistryClient
from stream_sentinel.transport.base import TopicSpec
from stream_sentinel.transport.memory import MemoryBroker
from stream_sentinel.transport.topics import Topics
from stream_sentinel.wire.serde import Serde

EVENT = {
    "model_version": "m1",
    "event": "PROMOTED",
    "artifact_uri": "models/m1.txt",
    "metrics": {"auc": 0.9},
    "time": 1_700_000_000_000,
    "alias": "champion",
    "previous_version": None,
    "move": 1,
    "reason": "first model",
    "actor": "cli:ana",
}


def setup_topic() -> tuple[MemoryBroker, LocalRegistryClient]:
    broker = MemoryBroker()
    broker.admin().create_topics([TopicSpec("t-model-events", 2)])
    registry = LocalRegistryClient.in_memory()
    encode = Serde(registry, Topics("t-")).encoder("model-events")
    producer = broker.producer()
    producer.produce("t-model-events", encode(EVENT), b"m1", partition=0, timestamp_ms=5)
    producer.produce(
        "t-model-events",
        encode({**EVENT, "model_version": "m2"}),
        b"m2",
        partition=1,
        timestamp_ms=6,
    )
    producer.produce("t-model-events", b'{"plain": "json"}', b"m3", partition=1, timestamp_ms=7)
    producer.produce(
        "t-model-events", b"\x00\x00\x00\x00\x09zz", b"m4", partition=1, timestamp_ms=8
    )
    producer.flush()
    return broker, registry


def read_all(broker: MemoryBroker, key: bytes | None = None, limit: int = 4) -> list[object]:
    consumer = open_reader(broker, "t-model-events", from_beginning=True)
    seen: list[object] = []
    for record in matching(consumer, key, lambda: len(seen) >= limit):
        seen.append(record)
    consumer.close()
    return seen


def test_records_print_as_decoded_json_lines() -> None:
    broker, registry = setup_topic()
    printer = RecordPrinter(registry)
    lines = [printer.line(record) for record in read_all(broker)]
    assert sorted(lines, key=str) == sorted(
        [
            (json.dumps(EVENT), None),
            (json.dumps({**EVENT, "model_version": "m2"}), None),
            ('{"plain": "json"}', None),
            (None, "schema id 9 is not in the registry"),
        ],
        key=str,
    )


def test_meta_wraps_records_with_where_they_came_from() -> None:
    broker, registry = setup_topic()
    [record] = read_all(broker, key=b"m1", limit=1)
    line, problem = RecordPrinter(registry, with_meta=True).line(record)  # type: ignore[arg-type]
    assert problem is None
    assert json.loads(line or "") == {
        "partition": 0,
        "offset": 0,
        "key": "m1",
        "timestamp": 5,
        "value": EVENT,
    }


def test_the_key_filter_keeps_one_users_records() -> None:
    broker, _ = setup_topic()
    assert [r.key() for r in read_all(broker, key=b"m3", limit=1)] == [b"m3"]  # type: ignore[attr-defined]


def test_without_from_beginning_only_new_records_are_read() -> None:
    broker, registry = setup_topic()
    consumer = open_reader(broker, "t-model-events", from_beginning=False)
    assert consumer.consume(10, 0.05) == []
    producer = broker.producer()
    producer.produce("t-model-events", b'{"late": true}', b"m9", partition=0)
    producer.flush()
    [record] = consumer.consume(10, 0.5)
    assert RecordPrinter(registry).line(record) == ('{"late": true}', None)


def test_an_unknown_topic_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="topic 't-nope' does not exist"):
        open_reader(MemoryBroker(), "t-nope", from_beginning=True)
