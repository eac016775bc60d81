"""Both publishing strategies on the embedded broker: what a read_committed reader sees and which
offsets the group has committed after each outcome, including the ones a reply never told."""

from __future__ import annotations

from typing import Any

import pytest

from stream_sentinel.errors import (
    ProducerFenced,
    TransactionAborted,
    TransportError,
    UnpublishableBatch,
)
from stream_sentinel.stream.publisher import (
    AtLeastOncePublisher,
    ExactlyOncePublisher,
    Publisher,
    publisher_for,
)
from stream_sentinel.stream.refusals import Refusals
from stream_sentinel.transport.base import Consumer, TopicPartition, TopicSpec
from tests.unit.test_stream_state_writer import GROUP, OUT, TOPIC, Rig

pytestmark = pytest.mark.unit

P0, P1 = TopicPartition(TOPIC, 0), TopicPartition(TOPIC, 1)
OUTPUTS = [(OUT, b"u1", b"score-1"), (OUT, b"u2", b"score-2")]


@pytest.fixture
def rig() -> Rig:
    return Rig()


def member(rig: Rig) -> Consumer:
    """The group's one member, owning both input partitions."""
    consumer = rig.backends.broker.consumer(GROUP)
    consumer.subscribe([TOPIC])
    consumer.consume(1, 0.0)
    assert sorted(consumer.assignment()) == [P0, P1]
    return consumer


def started(publisher: Publisher) -> Publisher:
    publisher.start()
    return publisher


def exactly_once(rig: Rig) -> ExactlyOncePublisher:
    publisher = ExactlyOncePublisher(rig.backends.broker, "tally-0", low_latency=None)
    publisher.start()
    return publisher


def at_least_once(rig: Rig) -> AtLeastOncePublisher:
    publisher = AtLeastOncePublisher(rig.backends.broker, low_latency=None)
    publisher.start()
    return publisher


def refuse_large_outputs(rig: Rig) -> None:
    """The output topic takes records up to 100 bytes (the broker refuses more at delivery)."""
    admin = rig.backends.broker.admin()
    admin.delete_topics([OUT])
    admin.create_topics([TopicSpec(OUT, 2, {"max.message.bytes": "100"})])


def test_the_guarantee_picks_the_strategy_once(rig: Rig) -> None:
    broker = rig.backends.broker
    assert type(publisher_for("exactly-once", broker, "t-0", None)) is ExactlyOncePublisher
    assert type(publisher_for("at-least-once", broker, "t-0", None)) is AtLeastOncePublisher


# -- exactly-once ------------------------------------------------------------------------------
def test_exactly_once_makes_the_outputs_and_the_offsets_visible_together(rig: Rig) -> None:
    publisher, consumer = exactly_once(rig), member(rig)
    publisher.publish(OUTPUTS, {P0: 3, P1: 1}, consumer)
    assert rig.read_committed() == [b"score-1", b"score-2"]
    assert rig.committed_offsets() == {P0: 3, P1: 1}


def test_an_aborted_transaction_shows_neither_outputs_nor_offsets(rig: Rig) -> None:
    refuse_large_outputs(rig)
    publisher, consumer = exactly_once(rig), member(rig)
    too_large = [*OUTPUTS, (OUT, b"u3", b"x" * 200)]
    with pytest.raises(TransactionAborted, match="1 record"):
        publisher.publish(too_large, {P0: 3}, consumer)
    assert publisher.refused_for_good() == 1  # the loop counts it towards stopping
    assert rig.read_committed() == []
    assert rig.committed_offsets() == {}
    publisher.publish(OUTPUTS, {P0: 3}, consumer)  # the same producer carries on
    assert rig.read_committed() == [b"score-1", b"score-2"]


def test_a_commit_whose_reply_was_lost_is_recognised_as_committed(rig: Rig) -> None:
    publisher, consumer = exactly_once(rig), member(rig)
    producer: Any = publisher.producer
    real = producer.commit_transaction

    def lost_reply(timeout_s: float = 30.0) -> None:
        real(timeout_s)  # the broker committed, but the acknowledgement never came back
        raise TransportError("commit_transaction: Local: Timed out")

    producer.commit_transaction = lost_reply
    with pytest.raises(TransportError):
        publisher.publish(OUTPUTS, {P0: 3}, consumer)
    assert publisher.recover({P0: 3}, consumer) is True
    assert publisher.producer is producer  # an abort was enough: the producer stays
    assert rig.read_committed() == [b"score-1", b"score-2"]
    assert rig.committed_offsets() == {P0: 3}


def test_a_transaction_cut_off_before_its_commit_is_aborted_and_reported_not_committed(
    rig: Rig,
) -> None:
    publisher, consumer = exactly_once(rig), member(rig)
    producer: Any = publisher.producer

    def unreachable(*args: Any, **kwargs: Any) -> None:
        raise TransportError("send_offsets_to_transaction: Local: Timed out")

    producer.send_offsets_to_transaction = unreachable
    with pytest.raises(TransportError):
        publisher.publish(OUTPUTS, {P0: 3}, consumer)
    assert publisher.recover({P0: 3}, consumer) is False
    assert rig.read_committed() == []
    assert rig.committed_offsets() == {}


def test_a_producer_that_cannot_abort_is_replaced_by_one_that_fences_it(rig: Rig) -> None:
    publisher, consumer = exactly_once(rig), member(rig)
    old: Any = publisher.producer
    real_abort, aborts = old.abort_transaction, []

    def unreachable(timeout_s: float = 30.0) -> None:
        raise TransportError("commit_transaction: Local: Timed out")

    def abort_fails_once(timeout_s: float = 30.0) -> None:
        aborts.append(timeout_s)
        if len(aborts) == 1:
            raise TransportError("abort_transaction: Local: Timed out")
        real_abort(timeout_s)

    old.commit_transaction, old.abort_transaction = unreachable, abort_fails_once
    with pytest.raises(TransportError):
        publisher.publish(OUTPUTS, {P0: 3}, consumer)
    assert publisher.recover({P0: 3}, consumer) is False
    assert publisher.producer is not old
    with pytest.raises(ProducerFenced):  # the new producer took over the transactional id
        old.begin_transaction()
    publisher.publish(OUTPUTS, {P0: 3}, consumer)  # the new producer owns the transactional id
    assert rig.read_committed() == [b"score-1", b"score-2"]
    assert rig.committed_offsets() == {P0: 3}


# -- at-least-once -----------------------------------------------------------------------------
def test_at_least_once_delivers_the_outputs_then_commits_the_offsets(rig: Rig) -> None:
    publisher, consumer = at_least_once(rig), member(rig)
    publisher.publish(OUTPUTS, {P0: 2, P1: 5}, consumer)
    assert rig.read_committed() == [b"score-1", b"score-2"]
    assert rig.committed_offsets() == {P0: 2, P1: 5}


def test_at_least_once_never_commits_past_an_undelivered_output(rig: Rig) -> None:
    refuse_large_outputs(rig)
    publisher, consumer = at_least_once(rig), member(rig)
    with pytest.raises(TransactionAborted, match=r"^1 output\(s\) failed delivery$"):
        publisher.publish([*OUTPUTS, (OUT, b"u3", b"x" * 200)], {P0: 3}, consumer)
    assert rig.committed_offsets() == {}
    assert rig.read_committed() == [b"score-1", b"score-2"]  # delivered: a replay repeats them
    assert publisher.refused_for_good() == 1


def test_at_least_once_recovers_with_a_new_producer_and_never_counts_as_committed(
    rig: Rig,
) -> None:
    publisher, consumer = at_least_once(rig), member(rig)
    publisher.publish(OUTPUTS, {P0: 3}, consumer)
    old = publisher.producer
    assert publisher.recover({P0: 3}, consumer) is False  # even though it was: replay is safe
    assert publisher.producer is not old
    assert rig.committed_offsets() == {P0: 3}


def test_closing_a_publisher_releases_its_producer(rig: Rig) -> None:
    publisher = started(publisher_for("exactly-once", rig.backends.broker, "tally-0", None))
    publisher.close()
    assert publisher.producer is None
    publisher.close()  # twice is fine
    assert publisher.producer is None


# -- refusals ----------------------------------------------------------------------------------
def test_the_third_refusal_in_a_row_of_one_batch_stops_it(rig: Rig) -> None:
    rig.send(0, b"a", b"b")
    reader = rig.backends.broker.consumer(None)
    reader.assign({P0: 0})
    batch = reader.consume(10, 0.0)
    refusals, refused = Refusals(limit=3), TransactionAborted("Message size too large")
    refusals.count(batch, refused, for_good=True)
    refusals.count(batch[:1], refused, for_good=True)  # the same start; its end may differ
    assert refusals.in_a_row == 2
    with pytest.raises(UnpublishableBatch) as stopped:
        refusals.count(batch, refused, for_good=True)
    assert str(stopped.value).startswith(
        f"the outputs of the batch starting at {TOPIC}[0] from 0 were refused 3 times "
        "(Message size too large); stopping rather than skipping it."
    )


def test_a_refusal_of_another_batch_or_a_retriable_failure_starts_the_count_again(
    rig: Rig,
) -> None:
    rig.send(0, b"a", b"b")
    reader = rig.backends.broker.consumer(None)
    reader.assign({P0: 0})
    batch = reader.consume(10, 0.0)
    refusals, refused = Refusals(limit=3), TransactionAborted("Message size too large")
    refusals.count(batch, refused, for_good=True)
    refusals.count(batch[1:], refused, for_good=True)  # starts at offset 1: another batch
    assert refusals.in_a_row == 1
    refusals.count(batch[1:], TransportError("Local: Timed out"), for_good=False)
    assert refusals.in_a_row == 0
