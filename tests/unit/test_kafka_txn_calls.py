"""How a transactional producer call's librdkafka errors become ours, and which are retried.

The errors are confluent-kafka's own KafkaError values (with the flags librdkafka sets); the
waits run on a manual clock, so the retry policy is checked to the millisecond without sleeping.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from confluent_kafka import KafkaError, KafkaException

from stream_sentinel.clock import ManualClock
from stream_sentinel.errors import (
    ProducerFatal,
    ProducerFenced,
    TransactionAborted,
    TransportError,
)
from stream_sentinel.transport.kafka_producer import _txn_call

pytestmark = pytest.mark.unit


def failing(errors: list[KafkaError], result: str = "done") -> tuple[Callable[[], str], list[int]]:
    """A call raising each of ``errors`` in turn, then returning ``result``; and its calls."""
    calls: list[int] = []

    def call() -> str:
        calls.append(1)
        if len(calls) <= len(errors):
            raise KafkaException(errors[len(calls) - 1])
        return result

    return call, calls


def retriable(reason: str = "coordinator loading") -> KafkaError:
    return KafkaError(KafkaError.COORDINATOR_LOAD_IN_PROGRESS, reason, retriable=True)


def test_passing_failures_are_retried_with_doubling_waits_then_succeed() -> None:
    clock = ManualClock()
    call, calls = failing([retriable(), retriable(), retriable()])
    assert _txn_call("commit_transaction", call, attempts=5, clock=clock) == "done"
    assert len(calls) == 4
    assert round(clock.monotonic(), 3) == pytest.approx(0.2 + 0.4 + 0.8)


def test_passing_failures_past_the_attempts_end_as_a_transport_error_naming_the_call() -> None:
    clock = ManualClock()
    call, calls = failing([retriable("broker busy")] * 3)
    with pytest.raises(TransportError) as raised:
        _txn_call("commit_transaction", call, attempts=3, clock=clock)
    assert type(raised.value) is TransportError
    assert str(raised.value) == "commit_transaction: broker busy"
    assert isinstance(raised.value.__cause__, KafkaException)
    assert len(calls) == 3
    assert round(clock.monotonic(), 3) == pytest.approx(0.2 + 0.4)


def test_with_one_attempt_a_passing_failure_asks_for_an_abort_without_waiting() -> None:
    clock = ManualClock()
    call, calls = failing([retriable("rebalance in progress")])
    with pytest.raises(TransactionAborted) as raised:
        _txn_call("send_offsets_to_transaction", call, attempts=1, clock=clock)
    assert str(raised.value) == (
        "send_offsets_to_transaction: rebalance in progress; abort and retry"
    )
    assert len(calls) == 1
    assert clock.monotonic() == 0.0


@pytest.mark.parametrize(
    ("error", "expected", "message"),
    [
        (
            KafkaError(KafkaError._FENCED, "epoch bumped", fatal=True),
            ProducerFenced,
            "begin_transaction: producer fenced (epoch bumped)",
        ),
        (
            KafkaError(KafkaError.PRODUCER_FENCED, "newer instance"),
            ProducerFenced,
            "begin_transaction: producer fenced (newer instance)",
        ),
        (
            KafkaError(KafkaError.INVALID_PRODUCER_EPOCH, "bad epoch", fatal=True),
            ProducerFatal,
            "begin_transaction: fatal producer error (bad epoch)",
        ),
        (
            KafkaError(KafkaError._TIMED_OUT, "commit timed out", txn_requires_abort=True),
            TransactionAborted,
            "begin_transaction: commit timed out; abort and retry",
        ),
        (
            KafkaError(KafkaError._STATE, "wrong state"),
            TransportError,
            "begin_transaction: wrong state",
        ),
    ],
)
def test_errors_that_waiting_cannot_fix_are_raised_at_once_as_ours(
    error: KafkaError, expected: type[Exception], message: str
) -> None:
    clock = ManualClock()
    call, calls = failing([error])
    with pytest.raises(expected) as raised:
        _txn_call("begin_transaction", call, attempts=5, clock=clock)
    assert type(raised.value) is expected
    assert str(raised.value) == message
    assert len(calls) == 1
    assert clock.monotonic() == 0.0
