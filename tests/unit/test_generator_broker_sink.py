"""Streaming to a broker, on the embedded broker and in-memory registry (no process started)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from stream_sentinel.errors import SerializationError
from stream_sentinel.generator import SimulationConfig, Simulator
from stream_sentinel.generator.kafka_sink import BrokerSink, user_keys
from stream_sentinel.registry_server.local_client import LocalRegistryClient
from stream_sentinel.transport.base import DeliveryCallback, Record, TopicPartition
from stream_sentinel.transport.memory import MemoryBroker
from stream_sentinel.transport.partitioner import partition_for
from stream_sentinel.transport.topics import Topics
from stream_sentinel.wire.serde import Serde

PREFIX = "gen-"


def _read_all(broker: MemoryBroker, topic: str, partitions: int) -> list[Record]:
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


class _FailingProducer:
    """Reports every other record as failed (as librdkafka would after its retries)."""

    def __init__(self) -> None:
        self.reports: list[tuple[DeliveryCallback, int]] = []

    def produce(
        self,
        topic: str,
        value: bytes | None,
        key: bytes | None = None,
        *,
        partition: int | None = None,
        timestamp_ms: int | None = None,
        headers: Sequence[tuple[str, bytes]] | None = None,
        on_delivery: DeliveryCallback | None = None,
    ) -> None:
        assert on_delivery is not None
        self.reports.append((on_delivery, len(self.reports)))

    def poll(self, timeout_s: float = 0.0) -> int:
        served, self.reports = self.reports, []
        for callback, n in served:
            if n % 2:
                callback("Broker: Message timed out", None, None)
            else:
                callback(None, TopicPartition("t", 0), n)
        return len(served)

    def flush(self, timeout_s: float = 30.0) -> int:
        self.poll()
        return 0

    def close(self) -> None:
        return None


class _BrokerWithFailures(MemoryBroker):
    def producer(  # type: ignore[override]
        self, *, transactional_id: str | None = None, low_latency: bool | None = None
    ) -> _FailingProducer:
        return _FailingProducer()


def test_delivery_errors_are_counted_never_dropped() -> None:
    simulator = Simulator(SimulationConfig(users=100), seed=1)
    serde = Serde(LocalRegistryClient.in_memory(), Topics(PREFIX))
    broker: Any = _BrokerWithFailures()
    sink = BrokerSink(broker, serde, simulator.population, simulator.id_prefix)
    sink.write(simulator.next_batch(1_001))
    sink.close()
    assert sink.stats.transactions == 501
    assert sink.stats.errors == 500
    assert sink.stats.last_error == "Broker: Message timed out"


def test_the_bulk_encoding_is_checked_against_the_serde_before_sending(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    simulator = Simulator(SimulationConfig(users=100), seed=1)
    broker = MemoryBroker()
    sink = BrokerSink(
        broker,
        Serde(LocalRegistryClient.in_memory(), Topics(PREFIX)),
        simulator.population,
        "t-other-",
    )
    # The serde sees the ids the domain objects carry; a codec with another prefix disagrees.
    monkeypatch.setattr(sink, "_prefix", simulator.id_prefix)
    with pytest.raises(SerializationError, match="nothing was sent"):
        sink.write(simulator.next_batch(10))
    assert _read_all(broker, f"{PREFIX}transactions", 12) == []


def test_user_keys_are_the_user_ids() -> None:
    import numpy as np

    assert user_keys(np.array([0, 42, 9_999_999])) == [b"u0000000", b"u0000042", b"u9999999"]
