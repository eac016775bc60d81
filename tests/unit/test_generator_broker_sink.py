"""Streaming to a broker, on the embedded broker and in-memory registry (no process started)."""

from __future__ import annotations

import json

import pytest

from stream_sentinel.errors import SerializationError
from stream_sentinel.generator import SimulationConfig, Simulator
from stream_sentinel.generator.kafka_sink import BrokerSink, user_keys
from stream_sentinel.registry_server.local_client import LocalRegistryClient
from stream_sentinel.transport.base import Broker, Record, TopicPartition
from stream_sentinel.transport.memory import MemoryBroker
from stream_sentinel.transport.memory_faults import FaultyBroker
from stream_sentinel.transport.partitioner import partition_for
from stream_sentinel.transport.topics import Topics
from stream_sentinel.wire.failures import RecordEncoder
from stream_sentinel.wire.serde import AvroEncoder, Serde

PREFIX = "gen-"


def _read_all(broker: Broker, topic: str, partitions: int) -> list[Record]:
    consumer = broker.consumer(None)
    consumer.assign({TopicPartition(topic, p): 0 for p in range(partitions)})
    records: list[Record] = []
    while batch := consumer.consume(10_000, 0.01):
        records.extend(batch)
    return records


@pytest.fixture
def streamed() -> tuple[Simulator, MemoryBroker, Serde, BrokerSink]:
    simulator = Simulator(SimulationConfig(users=500, fraud_rate=0.05), seed=6)
    broker = MemoryBroker()
    serde = Serde(LocalRegistryClient.in_memory(), Topics(PREFIX))
    sink = BrokerSink(broker, serde, simulator.population, simulator.id_prefix)
    for _ in range(5):
        sink.write(simulator.next_batch(2_000))
        sink.write_labels(simulator.labels_due(simulator.now_ms))
    sink.close()
    return simulator, broker, serde, sink


def test_transactions_are_avro_keyed_by_user_on_the_murmur2_partition(
    streamed: tuple[Simulator, MemoryBroker, Serde, BrokerSink],
) -> None:
    simulator, broker, serde, sink = streamed
    records = _read_all(broker, f"{PREFIX}transactions", 12)
    assert len(records) == 10_000 == sink.stats.transactions
    decoder = serde.decoder("transactions")
    decoded = sorted(
        (decoder.decode(r.value()) for r in records), key=lambda d: d["transaction_id"]
    )
    assert decoded[0]["transaction_id"] == f"{simulator.id_prefix}0000000000"
    for record in records:
        value = decoder.decode(record.value())
        assert record.key() == value["user_id"].encode()
        assert record.partition() == partition_for(record.key() or b"", 12)


def test_labels_go_to_fraud_feedback_after_their_transactions(
    streamed: tuple[Simulator, MemoryBroker, Serde, BrokerSink],
) -> None:
    simulator, broker, serde, sink = streamed
    labels = _read_all(broker, f"{PREFIX}fraud-feedback", 6)
    assert len(labels) == sink.stats.labels == simulator.stats.labels_released > 0
    decoder = serde.decoder("fraud-feedback")
    for record in labels:
        feedback = decoder.decode(record.value())
        assert feedback["label_time"] - feedback["event_time"] >= 30 * 60_000
        assert record.key() == feedback["user_id"].encode()
        assert (feedback["pattern"] is None) or feedback["label"] == "FRAUD"


def test_delivery_errors_are_counted_never_dropped() -> None:
    simulator = Simulator(SimulationConfig(users=100), seed=1)
    serde = Serde(LocalRegistryClient.in_memory(), Topics(PREFIX))
    broker = FaultyBroker(MemoryBroker())
    broker.faults.fail_deliveries(500)  # as librdkafka reports them after its retries
    sink = BrokerSink(broker, serde, simulator.population, simulator.id_prefix)
    sink.write(simulator.next_batch(1_001))
    sink.close()
    assert (sink.stats.transactions, sink.stats.errors) == (501, 500)
    assert sink.stats.last_error == "Broker: Message timed out"
    assert len(_read_all(broker, f"{PREFIX}transactions", 12)) == 501


class _SchemaMovedOnSerde(Serde):
    """A serde whose transactions encoder writes a newer layout (the same fields, amount last)
    than the bundled schema the generator's bulk codec follows."""

    def encoder(self, logical_topic: str) -> RecordEncoder:
        if logical_topic != "transactions":
            return super().encoder(logical_topic)
        schema = self.schema(logical_topic)
        document = schema.json
        fields = [f for f in document["fields"] if f["name"] != "amount"]
        fields += [f for f in document["fields"] if f["name"] == "amount"]
        moved = json.dumps({**document, "fields": fields})
        return AvroEncoder(self.registry, schema.subject(self.topics), moved)


def test_the_bulk_encoding_is_checked_against_the_serde_before_sending() -> None:
    simulator = Simulator(SimulationConfig(users=100), seed=1)
    broker = MemoryBroker()
    serde = _SchemaMovedOnSerde(LocalRegistryClient.in_memory(), Topics(PREFIX))
    sink = BrokerSink(broker, serde, simulator.population, simulator.id_prefix)
    refused = r"differs from the serde's for .*; nothing was sent"
    with pytest.raises(SerializationError, match=refused):
        sink.write(simulator.next_batch(10))
    assert _read_all(broker, f"{PREFIX}transactions", 12) == []


def test_user_keys_are_the_user_ids() -> None:
    import numpy as np

    assert user_keys(np.array([0, 42, 9_999_999])) == [b"u0000000", b"u0000042", b"u9999999"]
