"""A `_schemas` holding what today's registry would refuse (issue 15, item 8): records written by
a raw producer, as another registry or a migration tool might have, do not stop the registry."""

from __future__ import annotations

import json
from pathlib import Path

from confluent_kafka import Producer
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient

from stream_sentinel.config import Settings
from stream_sentinel.infra.process import free_ports
from stream_sentinel.registry_server.store import TopicLog
from stream_sentinel.transport.kafka import KafkaBroker
from stream_sentinel.transport.topics import Topics
from tests.integration.test_registry_restart import private, registry_process

__all__ = ["private"]  # the fixture, shared with the restart tests

LEGACY = '{"type":"record","name":"legacy-payment","fields":[{"name":"id","type":"string"}]}'


def schema_key(subject: str, version: int) -> bytes:
    key = {"keytype": "SCHEMA", "subject": subject, "version": version, "magic": 1}
    return json.dumps(key).encode()


def inject(settings: Settings) -> None:
    """Records a raw producer writes, around one valid legacy schema."""
    topic = Topics.from_settings(settings).schemas
    TopicLog(KafkaBroker(settings.kafka), topic).ensure_topic()
    legacy = {"subject": "legacy-value", "version": 1, "id": 5, "schema": LEGACY, "deleted": False}
    records = [
        (b"definitely not json", b"{}"),
        (schema_key("broken-value", 1), b"{this is not json either"),
        (json.dumps({"keytype": "FROM_THE_FUTURE", "magic": 9}).encode(), b"{}"),
        (schema_key("legacy-value", 1), json.dumps(legacy).encode()),
    ]
    producer = Producer({"bootstrap.servers": settings.kafka.bootstrap})
    for key, value in records:
        producer.produce(topic, value=value, key=key, partition=0)
    assert producer.flush(30) == 0


def test_the_registry_starts_over_bad_records_logs_them_and_keeps_registering(
    private: Settings, tmp_path: Path
) -> None:
    inject(private)
    log = tmp_path / "registry.log"
    with registry_process(private, free_ports(1)[0], log) as url:
        client = SchemaRegistryClient({"url": url})
        assert client.get_subjects() == ["legacy-value"]
        fresh = Schema('{"type":"record","name":"Fresh","fields":[{"name":"id","type":"string"}]}')
        assert client.register_schema("fresh-value", fresh) == 6
        assert client.lookup_schema("legacy-value", Schema(LEGACY, "AVRO")).schema_id == 5
        assert client.get_schema(5).schema_str == LEGACY
        assert client.register_schema("more-value", Schema('"string"', "AVRO")) == 7
    text = log.read_text()
    assert "skipping malformed _schemas record" in text
    assert "skipping _schemas record of unknown keytype 'FROM_THE_FUTURE'" in text
    assert "a stored schema fails today's validation" in text
