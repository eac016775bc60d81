"""Through real Kafka and the real registry: Confluent's Avro serde and ours read each other, and
`schemas register` and `tail` work as a user runs them."""

from __future__ import annotations

import datetime
import json
import subprocess
import sys
from typing import Any

from click.testing import CliRunner
from confluent_kafka import Consumer, Producer
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from stream_sentinel.cli import cli
from stream_sentinel.clients.registry import connect_registry
from stream_sentinel.config import Settings
from stream_sentinel.transport.base import TopicPartition
from stream_sentinel.transport.kafka import KafkaBroker
from stream_sentinel.transport.topics import Topics
from stream_sentinel.wire.records import to_dict
from stream_sentinel.wire.schemas import find
from stream_sentinel.wire.serde import Serde
from tests.integration.stacks import cli_env
from tests.unit.test_serde_records import SAMPLES

V2 = find("Transaction", 2).text


def transaction(index: int) -> dict[str, Any]:
    return {
        "transaction_id": f"tx-{index}",
        "user_id": f"user-{index % 3}",
        "amount": 10.0 + index,
        "timestamp": 1_700_000_000_000 + index,
        "currency": "EUR",
        "merchant_id": None,
        "merchant_category": None,
        "channel": "ONLINE",
        "card_type": "CREDIT",
        "device_id": None,
        "ip_address": None,
        "latitude": None,
        "longitude": None,
        "merchant_latitude": None,
        "merchant_longitude": None,
        "country": "NL",
        "merchant_country": "NL",
        "metadata": {"n": str(index)},
    }


def create_topics(settings: Settings, *logical: str) -> Topics:
    topics = Topics.from_settings(settings)
    admin = KafkaBroker(settings.kafka).admin()
    try:
        admin.create_topics(
            [
                spec
                for spec in topics.specs()
                if spec.name in {topics.name(name) for name in logical}
            ]
        )
    finally:
        admin.close()
    return topics


def read_values(settings: Settings, topic: str, count: int) -> list[bytes]:
    """``count`` values from every partition of ``topic``, read_committed, from the start."""
    broker = KafkaBroker(settings.kafka)
    admin = broker.admin()
    partitions = admin.describe_topics([topic])[topic].partitions
    admin.close()
    consumer = broker.consumer(None)
    consumer.assign({TopicPartition(topic, p): 0 for p in range(partitions)})
    values: list[bytes] = []
    for _ in range(100):
        values += [record.value() or b"" for record in consumer.consume(100, 0.2)]
        if len(values) >= count:
            break
    consumer.close()
    return values


def test_confluent_serializer_output_decodes_with_our_serde(settings: Settings) -> None:
    topics = create_topics(settings, "transactions")
    confluent = SchemaRegistryClient({"url": settings.registry.url})
    serializer = AvroSerializer(confluent, V2)
    producer = Producer({"bootstrap.servers": settings.kafka.bootstrap})
    context = SerializationContext(topics.transactions, MessageField.VALUE)
    for index in range(5):
        producer.produce(
            topics.transactions,
            serializer(transaction(index), context),
            f"user-{index % 3}".encode(),
        )
    assert producer.flush(30) == 0

    serde = Serde(connect_registry(settings.registry), topics)
    records, failures = serde.decoder("transactions").decode_many(
        read_values(settings, topics.transactions, 5)
    )
    assert failures == []
    assert sorted(records, key=lambda r: r["transaction_id"]) == [  # type: ignore[index]
        transaction(index) for index in range(5)
    ]


def test_our_serde_output_decodes_with_confluents_deserializer(settings: Settings) -> None:
    topics = create_topics(settings, "transactions")
    serde = Serde(connect_registry(settings.registry), topics)
    producer = KafkaBroker(settings.kafka).producer()
    for index in range(5):
        producer.produce(
            topics.transactions,
            serde.encoder("transactions")(transaction(index)),
            f"user-{index % 3}".encode(),
        )
    assert producer.flush(30) == 0

    deserializer = AvroDeserializer(SchemaRegistryClient({"url": settings.registry.url}))
    consumer = Consumer(
        {
            "bootstrap.servers": settings.kafka.bootstrap,
            "group.id": f"{topics.prefix}interop",
            "auto.offset.reset": "earliest",
            "isolation.level": "read_committed",
        }
    )
    consumer.subscribe([topics.transactions])
    decoded: list[dict[str, Any]] = []
    for _ in range(150):
        message = consumer.poll(0.2)
        if message is not None and message.error() is None:
            context = SerializationContext(message.topic(), MessageField.VALUE)
            decoded.append(deserializer(message.value(), context))
        if len(decoded) == 5:
            break
    consumer.close()
    assert len(decoded) == 5
    for record in decoded:
        stamp = record["timestamp"]
        assert isinstance(stamp, datetime.datetime)
        record["timestamp"] = int(stamp.timestamp() * 1000)
    assert sorted(decoded, key=lambda r: r["transaction_id"]) == [
        transaction(index) for index in range(5)
    ]


def test_schemas_register_is_idempotent_against_the_real_registry(settings: Settings) -> None:
    runner = CliRunner()
    first = runner.invoke(cli, ["schemas", "register"], env=cli_env(settings))
    assert first.exit_code == 0, first.output
    prefix = settings.kafka.topic_prefix
    assert [line.split(":")[0].split()[0] for line in first.output.splitlines()] == [
        f"{prefix}{topic}-value"
        for topic in (
            "transactions",
            "transactions",
            "fraud-scores",
            "fraud-scores",
            "fraud-alerts",
            "user-actions",
            "fraud-feedback",
            "dead-letter",
            "dead-letter",
            "model-events",
            "model-events",
            "decision-features",
            "decision-features",
            "drift-events",
        )
    ]
    second = runner.invoke(cli, ["schemas", "register"], env=cli_env(settings))
    assert second.exit_code == 0
    assert all("already registered" in line for line in second.output.splitlines())
    registry = connect_registry(settings.registry)
    assert registry.versions(f"{prefix}transactions-value") == [1, 2]
    assert registry.versions(f"{prefix}dead-letter-value") == [1, 2]
    assert registry.versions(f"{prefix}model-events-value") == [1, 2]
    listed = runner.invoke(cli, ["schemas", "list"], env=cli_env(settings))
    assert f"{prefix}transactions-value" in listed.output


def test_tail_shows_decoded_fraud_scores(settings: Settings) -> None:
    topics = create_topics(settings, "fraud-scores")
    serde = Serde(connect_registry(settings.registry), topics)
    score = to_dict(SAMPLES["fraud-scores"])
    producer = KafkaBroker(settings.kafka).producer()
    for index in range(3):
        record = {**score, "transaction_id": f"tx-{index}"}
        producer.produce(topics.fraud_scores, serde.encoder("fraud-scores")(record), b"user-1")
    assert producer.flush(30) == 0

    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "stream_sentinel",
            "tail",
            "fraud-scores",
            "--from-beginning",
            "--limit",
            "3",
            "--key",
            "user-1",
        ],
        env=cli_env(settings),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert lines == [{**score, "transaction_id": f"tx-{index}"} for index in range(3)]
