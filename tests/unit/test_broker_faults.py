"""The broker that fails on cue: without a plan it is the embedded broker, with one it fails
exactly the call it was told to, once."""

from __future__ import annotations

import itertools

import pytest

from stream_sentinel.errors import TransactionAborted, TransportError
from stream_sentinel.transport.base import Record, TopicPartition, TopicSpec
from stream_sentinel.transport.memory import MemoryBroker
from stream_sentinel.transport.memory_faults import FaultyBroker, FaultyProducer
from tests.contract.broker_contract import BrokerContract, NewTopic

pytestmark = pytest.mark.unit

TOPIC = "payments"
TP = TopicPartition(TOPIC, 0)
GROUP = "detector"


class TestFaultyBrokerWithoutFaults(BrokerContract):
    QUIET_S = 0.2

    @pytest.fixture
    def broker(self) -> FaultyBroker:
        return FaultyBroker(MemoryBroker())

    @pytest.fixture
    def new_topic(self, broker: FaultyBroker) -> NewTopic:
        names = itertools.count()

        def create(partitions: int) -> str:
            name = f"topic-{next(names)}"
            broker.admin().create_topics([TopicSpec(name, partitions)])
            return name

        return create


@pytest.fixture
def broker() -> FaultyBroker:
    broker = FaultyBroker(MemoryBroker())
    broker.admin().create_topics([TopicSpec(TOPIC, 1), TopicSpec("inputs", 1)])
    return broker


def visible(broker: FaultyBroker) -> list[bytes | None]:
    reader = broker.consumer(None)
    reader.assign({TP: 0})
    records: list[Record] = reader.consume(100, 0.0)
    reader.close()
    return [r.value() for r in records]


def transactional(broker: FaultyBroker) -> FaultyProducer:
    producer = broker.producer(transactional_id="detector-0")
    producer.init_transactions()
    return producer


def read_and_publish(broker: FaultyBroker, producer: FaultyProducer, value: bytes) -> None:
    """One consume-transform-produce round: ``value`` out, the input's offset 1 committed."""
    consumer = broker.consumer(GROUP)
    consumer.subscribe(["inputs"])
    consumer.consume(1, 0.0)  # joins the group
    producer.begin_transaction()
    producer.produce(TOPIC, value)
    try:
        producer.send_offsets_to_transaction(
            {TopicPartition("inputs", 0): 1}, consumer.group_metadata()
        )
        producer.commit_transaction()
    finally:
        consumer.close()


def test_an_aborted_commit_leaves_nothing_visible_and_the_next_one_commits(
    broker: FaultyBroker,
) -> None:
    producer = transactional(broker)
    broker.faults.abort_next_commit("the coordinator aborted it")
    with pytest.raises(TransactionAborted, match="the coordinator aborted it"):
        read_and_publish(broker, producer, b"first")
    producer.abort_transaction()
    assert (visible(broker), broker.admin().group_offsets(GROUP)) == ([], {})
    read_and_publish(broker, producer, b"again")
    assert visible(broker) == [b"again"]
    assert broker.admin().group_offsets(GROUP) == {TopicPartition("inputs", 0): 1}


def test_a_lost_commit_reply_raises_although_the_broker_committed(broker: FaultyBroker) -> None:
    producer = transactional(broker)
    broker.faults.lose_next_commit_reply()
    with pytest.raises(TransportError, match="commit_transaction: Local: Timed out") as lost:
        read_and_publish(broker, producer, b"committed")
    assert lost.value.retriable is True and not isinstance(lost.value, TransactionAborted)
    assert visible(broker) == [b"committed"]
    assert broker.admin().group_offsets(GROUP) == {TopicPartition("inputs", 0): 1}


def test_a_failed_send_offsets_does_nothing(broker: FaultyBroker) -> None:
    producer = transactional(broker)
    broker.faults.fail_next("send_offsets_to_transaction", TransportError("coordinator moved"))
    with pytest.raises(TransportError, match="coordinator moved"):
        read_and_publish(broker, producer, b"out")
    producer.abort_transaction()
    assert (visible(broker), broker.admin().group_offsets(GROUP)) == ([], {})


def test_undelivered_records_are_reported_and_counted_never_dropped_silently(
    broker: FaultyBroker,
) -> None:
    producer = broker.producer()
    reports: list[tuple[str | None, int | None]] = []
    broker.faults.fail_deliveries(2)
    for n in range(4):
        producer.produce(
            TOPIC, f"r{n}".encode(), on_delivery=lambda e, tp, o: reports.append((e, o))
        )
    assert producer.flush() == 0
    assert reports == [
        ("Broker: Message timed out", None),
        ("Broker: Message timed out", None),
        (None, 0),
        (None, 1),
    ]
    assert (producer.delivery_failures(), producer.refused_for_good()) == (2, 0)
    assert visible(broker) == [b"r2", b"r3"]


def test_a_transaction_holding_an_undelivered_record_cannot_commit(broker: FaultyBroker) -> None:
    producer = transactional(broker)
    broker.faults.fail_deliveries(1)
    producer.begin_transaction()
    producer.produce(TOPIC, b"a")
    producer.produce(TOPIC, b"b")
    with pytest.raises(TransactionAborted, match=r"1 record\(s\) failed delivery"):
        producer.commit_transaction()
    assert visible(broker) == []
    producer.begin_transaction()  # the failed transaction is over: a new one starts
    producer.produce(TOPIC, b"c")
    producer.commit_transaction()
    assert visible(broker) == [b"c"]


def test_faults_fire_once_each_in_the_order_planned_on_any_producer(
    broker: FaultyBroker,
) -> None:
    seen: list[str] = []
    broker.faults.before("produce", lambda: seen.append("first"))
    broker.faults.before("produce", lambda: seen.append("second"))
    broker.faults.after("flush", lambda: seen.append("flushed"))
    assert broker.faults.pending == 3
    one, other = broker.producer(), broker.producer()
    one.produce(TOPIC, b"x")
    other.produce(TOPIC, b"y")
    one.produce(TOPIC, b"z")
    other.flush()
    one.flush()
    assert seen == ["first", "second", "flushed"]
    assert broker.faults.pending == 0
    assert visible(broker) == [b"x", b"y", b"z"]


def test_a_fault_planned_before_a_call_that_raises_stops_the_call(broker: FaultyBroker) -> None:
    producer = broker.producer()
    broker.faults.fail_next("produce", TransportError("Local: Queue full"))
    with pytest.raises(TransportError, match="Queue full"):
        producer.produce(TOPIC, b"refused")
    producer.produce(TOPIC, b"accepted")
    assert visible(broker) == [b"accepted"]
