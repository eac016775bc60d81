"""One behavioural suite for every Broker implementation.

Subclass :class:`BrokerContract` and provide two fixtures: ``broker`` (a Broker) and
``new_topic`` (a factory ``new_topic(partitions) -> name`` creating a fresh, empty topic).
The embedded broker runs it in the unit tier, Kafka in the integration tier.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable

import pytest

from stream_sentinel.errors import ProducerFenced, TransactionAborted, TransportError
from stream_sentinel.transport.base import (
    Broker,
    Consumer,
    NoopListener,
    Record,
    TopicPartition,
    TopicSpec,
)
from stream_sentinel.transport.partitioner import partition_for

NewTopic = Callable[[int], str]
DEADLINE_S = 60.0


def consume_n(consumer: Consumer, n: int, deadline_s: float = DEADLINE_S) -> list[Record]:
    """Consume until ``n`` records arrived (fails the test if they do not come)."""
    out: list[Record] = []
    end = time.monotonic() + deadline_s
    while len(out) < n and time.monotonic() < end:
        out += consumer.consume(n - len(out), 0.5)
    assert len(out) == n, f"expected {n} records, got {len(out)}"
    return out


def drain(consumer: Consumer, quiet_s: float = 2.0) -> list[Record]:
    """Everything that arrives until nothing has for ``quiet_s`` seconds."""
    out: list[Record] = []
    while True:
        batch = consumer.consume(1000, quiet_s)
        if not batch:
            return out
        out += batch


def wait_assigned(consumers: list[Consumer], partitions: int) -> None:
    """Poll every consumer until their assignments cover ``partitions`` partitions."""
    end = time.monotonic() + DEADLINE_S
    while time.monotonic() < end:
        for c in consumers:
            c.consume(1, 0.2)
        if sum(len(c.assignment()) for c in consumers) == partitions and all(
            c.assignment() for c in consumers
        ):
            return
    raise AssertionError("consumer group did not settle")


class RecordingListener(NoopListener):
    def __init__(self) -> None:
        self.events: list[tuple[str, list[TopicPartition]]] = []

    def on_assign(self, partitions: list[TopicPartition]) -> None:
        self.events.append(("assign", sorted(partitions)))

    def on_revoke(self, partitions: list[TopicPartition]) -> None:
        self.events.append(("revoke", sorted(partitions)))


@pytest.mark.contract
class BrokerContract:
    #: How long "nothing more arrives" must last before a reader is considered drained.
    QUIET_S = 2.0

    def test_create_topics_is_idempotent_and_describes_layout(self, broker: Broker) -> None:
        name = f"layout-{uuid.uuid4().hex[:8]}"
        admin = broker.admin()
        spec = TopicSpec(name, 3, {"compression.type": "lz4", "cleanup.policy": "compact"})
        assert admin.create_topics([spec]) == {name: True}
        assert admin.create_topics([spec]) == {name: False}
        info = admin.describe_topics([name])[name]
        assert info.partitions == 3
        assert info.config["compression.type"] == "lz4"
        assert info.config["cleanup.policy"] == "compact"

    def test_keyed_records_land_on_the_murmur2_partition(
        self, broker: Broker, new_topic: NewTopic
    ) -> None:
        topic = new_topic(12)
        producer = broker.producer()
        keys = [f"user-{i}".encode() for i in range(40)]
        for key in keys:
            producer.produce(topic, b"v", key)
        assert producer.flush(30) == 0
        consumer = broker.consumer(None)
        consumer.assign({TopicPartition(topic, p): 0 for p in range(12)})
        records = consume_n(consumer, len(keys))
        assert {r.key(): r.partition() for r in records} == {k: partition_for(k, 12) for k in keys}
        consumer.close()

    def test_record_fields_and_per_key_order_survive(
        self, broker: Broker, new_topic: NewTopic
    ) -> None:
        topic = new_topic(2)
        producer = broker.producer()
        for i in range(20):
            producer.produce(
                topic, f"v{i}".encode(), b"k1", timestamp_ms=1_700_000_000_000 + i,
                headers=[("trace", f"t{i}".encode())],
            )  # fmt: skip
        producer.flush(30)
        consumer = broker.consumer(None)
        consumer.assign({TopicPartition(topic, p): 0 for p in range(2)})
        records = consume_n(consumer, 20)
        assert [r.value() for r in records] == [f"v{i}".encode() for i in range(20)]
        assert [r.timestamp()[1] for r in records] == [1_700_000_000_000 + i for i in range(20)]
        assert [dict(r.headers() or [])["trace"] for r in records] == [
            f"t{i}".encode() for i in range(20)
        ]
        assert [r.offset() for r in records] == list(range(20))
        assert consumer.watermarks(TopicPartition(topic, records[0].partition() or 0)) == (0, 20)
        consumer.close()

    def test_a_record_over_the_producer_limit_is_refused_at_once_and_not_retriable(
        self, broker: Broker, new_topic: NewTopic
    ) -> None:
        topic = new_topic(1)
        producer = broker.producer()
        with pytest.raises(TransportError, match="Message size too large") as refused:
            producer.produce(topic, b"v", b"k" * 600_000 + b"x" * 500_000)
        assert refused.value.retriable is False
        producer.produce(topic, b"fits", b"k")  # the producer goes on working
        producer.flush(30)
        consumer = broker.consumer(None)
        consumer.assign({TopicPartition(topic, 0): 0})
        assert [r.value() for r in consume_n(consumer, 1)] == [b"fits"]
        consumer.close()

    def test_a_record_over_the_topics_limit_fails_delivery_and_counts_as_refused_for_good(
        self, broker: Broker, new_topic: NewTopic
    ) -> None:
        topic = new_topic(1) + "-small"
        broker.admin().create_topics([TopicSpec(topic, 1, {"max.message.bytes": "2000"})])
        producer = broker.producer()
        reports: list[str | None] = []
        # random bytes: the broker's limit applies to the compressed batch
        big = random.Random(7).randbytes(5000)
        producer.produce(topic, big, b"k", on_delivery=lambda e, *_: reports.append(e))
        producer.flush(30)  # alone: the broker refuses a whole batch, its neighbours too
        producer.produce(topic, b"fits", b"k", on_delivery=lambda e, *_: reports.append(e))
        producer.flush(30)
        assert (producer.delivery_failures(), producer.refused_for_good()) == (1, 1)
        errors = [str(report) for report in reports if report is not None]
        assert len(reports) == 2 and len(errors) == 1
        assert "Message size too large" in errors[0]
        consumer = broker.consumer(None)
        consumer.assign({TopicPartition(topic, 0): 0})
        assert [r.value() for r in consume_n(consumer, 1)] == [b"fits"]
        consumer.close()

    def test_delivery_callbacks_report_where_records_landed(
        self, broker: Broker, new_topic: NewTopic
    ) -> None:
        topic = new_topic(1)
        producer = broker.producer()
        reports: list[tuple[str | None, TopicPartition | None, int | None]] = []
        for i in range(3):
            producer.produce(
                topic, b"x", f"k{i}".encode(), on_delivery=lambda *r: reports.append(r)
            )
        producer.flush(30)
        assert reports == [(None, TopicPartition(topic, 0), i) for i in range(3)]

    def test_group_members_split_partitions_and_resume_from_commits(
        self, broker: Broker, new_topic: NewTopic
    ) -> None:
        topic = new_topic(4)
        group = f"g-{uuid.uuid4().hex[:8]}"
        producer = broker.producer()
        for i in range(40):
            producer.produce(topic, str(i).encode(), f"user-{i}".encode())
        producer.flush(30)
        first, second = broker.consumer(group), broker.consumer(group)
        first.subscribe([topic])
        second.subscribe([topic])
        wait_assigned([first, second], 4)
        mine, theirs = set(first.assignment()), set(second.assignment())
        assert mine.isdisjoint(theirs)
        assert mine | theirs == {TopicPartition(topic, p) for p in range(4)}
        first.close()
        second.close()
        # the same group, fresh members: positions restart at the committed offsets
        seen = drain_group_with_commits(broker, group, topic, 40, self.QUIET_S)
        assert sorted(int(v) for v in seen) == list(range(40))
        assert drain_group_with_commits(broker, group, topic, 0, self.QUIET_S) == []
        assert sum(broker.admin().group_offsets(group).values()) == 40

    def test_rebalance_revokes_before_assigning(self, broker: Broker, new_topic: NewTopic) -> None:
        topic = new_topic(2)
        group = f"g-{uuid.uuid4().hex[:8]}"
        listener = RecordingListener()
        first = broker.consumer(group)
        first.subscribe([topic], listener)
        wait_assigned([first], 2)
        second = broker.consumer(group)
        second.subscribe([topic])
        wait_assigned([first, second], 2)
        all_tps = sorted(TopicPartition(topic, p) for p in range(2))
        assert listener.events[0] == ("assign", all_tps)
        assert listener.events[1] == ("revoke", all_tps)
        assert listener.events[2][0] == "assign" and len(listener.events[2][1]) == 1
        second.close()
        first.close()

    def test_committed_transaction_publishes_records_and_offsets_together(
        self, broker: Broker, new_topic: NewTopic
    ) -> None:
        source, sink = new_topic(1), new_topic(1)
        group = f"g-{uuid.uuid4().hex[:8]}"
        plain = broker.producer()
        for i in range(5):
            plain.produce(source, str(i).encode(), b"k")
        plain.flush(30)
        consumer = broker.consumer(group)
        consumer.subscribe([source])
        records = consume_n(consumer, 5)
        producer = broker.producer(transactional_id=f"txn-{uuid.uuid4().hex[:8]}")
        producer.init_transactions(30)
        producer.begin_transaction()
        for r in records:
            producer.produce(sink, b"out-" + (r.value() or b""), r.key())
        producer.send_offsets_to_transaction(
            {TopicPartition(source, 0): 5}, consumer.group_metadata(), 30
        )
        producer.commit_transaction(30)
        reader = broker.consumer(None, isolation="read_committed")
        reader.assign({TopicPartition(sink, 0): 0})
        assert [r.value() for r in consume_n(reader, 5)] == [f"out-{i}".encode() for i in range(5)]
        assert consumer.committed([TopicPartition(source, 0)]) == {TopicPartition(source, 0): 5}
        consumer.close()
        reader.close()

    def test_aborted_transaction_is_invisible_and_markers_take_offsets(
        self, broker: Broker, new_topic: NewTopic
    ) -> None:
        sink = new_topic(1)
        producer = broker.producer(transactional_id=f"txn-{uuid.uuid4().hex[:8]}")
        producer.init_transactions(30)
        producer.begin_transaction()
        for i in range(3):
            producer.produce(sink, f"aborted-{i}".encode(), b"k")
        producer.abort_transaction(30)
        producer.begin_transaction()
        for i in range(2):
            producer.produce(sink, f"kept-{i}".encode(), b"k")
        producer.commit_transaction(30)
        reader = broker.consumer(None, isolation="read_committed")
        reader.assign({TopicPartition(sink, 0): 0})
        kept = drain(reader, self.QUIET_S)
        assert [r.value() for r in kept] == [b"kept-0", b"kept-1"]
        # the commit marker takes an offset: readers must never assume contiguous offsets
        last = kept[-1].offset() or 0
        assert kept[0].offset() == last - 1
        assert reader.watermarks(TopicPartition(sink, 0))[1] == last + 2
        reader.close()

    def test_a_newer_producer_with_the_same_transactional_id_fences_the_older(
        self, broker: Broker, new_topic: NewTopic
    ) -> None:
        sink = new_topic(1)
        txn_id = f"txn-{uuid.uuid4().hex[:8]}"
        old = broker.producer(transactional_id=txn_id)
        old.init_transactions(30)
        old.begin_transaction()
        old.produce(sink, b"zombie", b"k")
        new = broker.producer(transactional_id=txn_id)
        new.init_transactions(30)
        with pytest.raises(ProducerFenced):
            old.commit_transaction(30)
        new.begin_transaction()
        new.produce(sink, b"fresh", b"k")
        new.commit_transaction(30)
        reader = broker.consumer(None)
        reader.assign({TopicPartition(sink, 0): 0})
        assert [r.value() for r in drain(reader, self.QUIET_S)] == [b"fresh"]
        reader.close()

    def test_transaction_with_offsets_of_a_departed_member_is_aborted(
        self, broker: Broker, new_topic: NewTopic
    ) -> None:
        source, sink = new_topic(1), new_topic(1)
        group = f"g-{uuid.uuid4().hex[:8]}"
        plain = broker.producer()
        plain.produce(source, b"1", b"k")
        plain.flush(30)
        consumer = broker.consumer(group)
        consumer.subscribe([source])
        consume_n(consumer, 1)
        stale = consumer.group_metadata()
        consumer.close()  # leaves the group: its generation is no longer current
        producer = broker.producer(transactional_id=f"txn-{uuid.uuid4().hex[:8]}")
        producer.init_transactions(30)
        producer.begin_transaction()
        producer.produce(sink, b"late", b"k")
        with pytest.raises(TransactionAborted):
            producer.send_offsets_to_transaction({TopicPartition(source, 0): 1}, stale, 30)
            producer.commit_transaction(30)
        producer.abort_transaction(30)
        reader = broker.consumer(None)
        reader.assign({TopicPartition(sink, 0): 0})
        assert drain(reader, self.QUIET_S) == []
        reader.close()

    def test_end_offsets_and_group_listing(self, broker: Broker, new_topic: NewTopic) -> None:
        topic = new_topic(2)
        producer = broker.producer()
        for i in range(7):
            producer.produce(topic, b"x", partition=i % 2)
        producer.flush(30)
        admin = broker.admin()
        ends = admin.end_offsets([TopicPartition(topic, 0), TopicPartition(topic, 1)])
        assert ends == {TopicPartition(topic, 0): 4, TopicPartition(topic, 1): 3}
        group = f"g-{uuid.uuid4().hex[:8]}"
        consumer = broker.consumer(group)
        consumer.subscribe([topic])
        consume_n(consumer, 7)
        consumer.commit({TopicPartition(topic, 0): 4, TopicPartition(topic, 1): 3})
        assert group in admin.list_groups()
        assert admin.group_offsets(group) == ends
        consumer.close()


def drain_group_with_commits(
    broker: Broker, group: str, topic: str, expect: int, quiet_s: float
) -> list[bytes]:
    """Read with a fresh group member, committing what was read; returns the values."""
    consumer = broker.consumer(group)
    consumer.subscribe([topic])
    values: list[bytes] = []
    end = time.monotonic() + DEADLINE_S
    quiet_until = None
    while time.monotonic() < end:
        batch = consumer.consume(100, min(0.5, quiet_s))
        if batch:
            values += [r.value() or b"" for r in batch]
            positions = {}
            for r in batch:
                positions[TopicPartition(r.topic() or "", r.partition() or 0)] = (
                    r.offset() or 0
                ) + 1
            consumer.commit(positions)
            quiet_until = None
        elif consumer.assignment() and len(values) >= expect:
            quiet_until = quiet_until or time.monotonic() + quiet_s
            if time.monotonic() >= quiet_until:
                break
    consumer.close()
    return values
