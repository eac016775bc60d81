"""The generator on real Kafka + the schema registry: what Confluent's own Avro consumer reads."""

from __future__ import annotations

import io
import time
from datetime import UTC, datetime
from typing import Any

import confluent_kafka
from click.testing import CliRunner
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext
from rich.console import Console

from stream_sentinel.cli import cli
from stream_sentinel.clock import SYSTEM_CLOCK, ManualClock
from stream_sentinel.config import Settings
from stream_sentinel.generator import Simulator
from stream_sentinel.generator.launch import Launch
from stream_sentinel.generator.request import GenerateRequest
from stream_sentinel.transport.partitioner import partition_for

COUNT = 3_000


def _consume(settings: Settings, topic: str, expected: int) -> list[Any]:
    consumer = confluent_kafka.Consumer(
        {
            "bootstrap.servers": settings.kafka.bootstrap,
            "group.id": f"{topic}-reader",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
        }
    )
    consumer.subscribe([topic])
    messages: list[Any] = []
    deadline = time.monotonic() + 60
    try:
        while len(messages) < expected and time.monotonic() < deadline:
            messages.extend(m for m in consumer.consume(1_000, 1.0) if m.error() is None)
    finally:
        consumer.close()
    return messages


def _launch(settings: Settings, request: GenerateRequest, now_ms: int) -> Any:
    quiet = Console(file=io.StringIO())
    return Launch(lambda: settings, quiet, quiet, clock=ManualClock(now_ms)).run(request)


def test_confluent_avro_consumers_read_what_the_generator_sends(settings: Settings) -> None:
    now_ms = SYSTEM_CLOCK.now_ms()
    request = GenerateRequest(
        rate=0, count=COUNT, users=300, fraud_rate=0.05, seed=11, label_delay="1m"
    )
    outcome = _launch(settings, request, now_ms)
    assert outcome.sent == COUNT
    assert outcome.delivery.errors == 0
    assert outcome.delivery.transactions == COUNT

    simulator = Simulator(request.simulation_config(request.plan(now_ms)), request.seed)
    expected = {tx.transaction_id: tx for tx in simulator.transactions(simulator.next_batch(COUNT))}
    topic = f"{settings.kafka.topic_prefix}transactions"
    messages = _consume(settings, topic, COUNT)
    deserialize = AvroDeserializer(SchemaRegistryClient({"url": settings.registry.url}))
    assert len(messages) == COUNT
    for message in messages:
        value = deserialize(message.value(), SerializationContext(topic, MessageField.VALUE))
        want = expected[value["transaction_id"]]
        assert message.key() == want.user_id.encode()
        assert message.partition() == partition_for(message.key(), 12)
        assert value["amount"] == want.amount
        assert value["timestamp"] == datetime.fromtimestamp(want.timestamp / 1000, tz=UTC)
        assert value["channel"] == want.channel.value
        assert (value["merchant_id"], value["device_id"], value["ip_address"]) == (
            want.merchant_id,
            want.device_id,
            want.ip_address,
        )
        assert want.timestamp <= now_ms  # the simulated period lies in the past


def test_labels_reach_fraud_feedback_after_their_delay(settings: Settings) -> None:
    request = GenerateRequest(
        rate=0, count=COUNT, users=300, fraud_rate=0.05, seed=12, label_delay="1m"
    )
    outcome = _launch(settings, request, SYSTEM_CLOCK.now_ms())
    assert outcome.labels_sent > 0
    topic = f"{settings.kafka.topic_prefix}fraud-feedback"
    messages = _consume(settings, topic, outcome.labels_sent)
    deserialize = AvroDeserializer(SchemaRegistryClient({"url": settings.registry.url}))
    assert len(messages) == outcome.labels_sent == outcome.delivery.labels
    for message in messages:
        label = deserialize(message.value(), SerializationContext(topic, MessageField.VALUE))
        assert label["label_time"] - label["event_time"] >= datetime.fromtimestamp(60, UTC) - (
            datetime.fromtimestamp(0, UTC)
        )
        assert message.key() == label["user_id"].encode()


def test_the_command_streams_at_a_rate_with_a_summary(settings: Settings) -> None:
    env = {
        "SENTINEL_KAFKA_BOOTSTRAP": settings.kafka.bootstrap,
        "SENTINEL_KAFKA_TOPIC_PREFIX": settings.kafka.topic_prefix,
        "SENTINEL_REGISTRY_URL": settings.registry.url,
    }
    result = CliRunner().invoke(
        cli,
        ["--env", "test", "generate", "--rate", "2000", "--duration", "3", "--seed", "5"],
        env=env,
    )
    assert result.exit_code == 0, result.output
    first = result.stdout.splitlines()[0]
    sent = int(first.split()[1].replace(",", ""))
    # The token bucket never grants more than rate x duration plus one burst.
    assert 0 < sent <= 2000 * 3 + 200
    assert "stopped: reached --duration 3s" in first
    assert "Delivery errors: 0" in result.stdout
    assert "Fraud: " in result.stdout
