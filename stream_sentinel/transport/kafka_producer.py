"""The real producer: confluent-kafka's Producer, plain and transactional (see :mod:`.kafka`)."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any, TypeVar

import confluent_kafka
from confluent_kafka import KafkaError, KafkaException
from confluent_kafka import TopicPartition as KafkaTopicPartition

from stream_sentinel.clock import SYSTEM_CLOCK, Clock
from stream_sentinel.errors import (
    ProducerFatal,
    ProducerFenced,
    TransactionAborted,
    TransportError,
)
from stream_sentinel.transport.base import DeliveryCallback, GroupMetadata, TopicPartition
from stream_sentinel.transport.retry import Backoff, retrying

log = logging.getLogger(__name__)
T = TypeVar("T")
WATCHDOG_GRACE_S = 5.0
#: produce() errors that the same record will meet again however often it is retried.
_PERMANENT = frozenset(
    {
        KafkaError.MSG_SIZE_TOO_LARGE,
        KafkaError.INVALID_RECORD,
        KafkaError.RECORD_LIST_TOO_LARGE,
        KafkaError._INVALID_ARG,
    }
)


def _kafka_tps(offsets: Mapping[TopicPartition, int]) -> list[KafkaTopicPartition]:
    return [KafkaTopicPartition(tp.topic, tp.partition, offset) for tp, offset in offsets.items()]


#: Waits between tries of a transactional call that failed for a passing reason.
TXN_BACKOFF = Backoff(first_s=0.2, max_s=1.0, attempts=5)


class _PassingFailure(Exception):
    """A retriable error of one transactional call: the backoff policy decides what follows."""


def _txn_call(
    operation: str, call: Callable[[], T], attempts: int = 5, clock: Clock = SYSTEM_CLOCK
) -> T:
    """Run a transactional API call, mapping librdkafka's error classes onto ours.

    Retriable errors are retried in place ``attempts`` times; with ``attempts=1`` a retriable
    error becomes TransactionAborted instead, so the caller aborts and re-reads the batch —
    the right move while the consumer group may be rebalancing (waiting here would keep the
    consumer from polling, and so from ever rejoining)."""

    def warn(failure: Exception, attempt: int, wait: float) -> None:
        log.warning("%s failed (%s), retrying (%d/%d)", operation, failure, attempt, attempts)

    try:
        return retrying(
            lambda: _txn_attempt(operation, call),
            replace(TXN_BACKOFF, attempts=attempts),
            retriable=(_PassingFailure,),
            clock=clock,
            on_retry=warn,
        )
    except _PassingFailure as exc:
        if attempts == 1:
            raise TransactionAborted(f"{operation}: {exc}; abort and retry") from exc.__cause__
        raise TransportError(f"{operation}: {exc}") from exc.__cause__


def _txn_attempt(operation: str, call: Callable[[], T]) -> T:
    """One try of ``call``: its result, or its failure as one of our error types."""
    try:
        return call()
    except KafkaException as exc:
        error: KafkaError = exc.args[0]
        if error.code() == KafkaError._FENCED or error.code() == KafkaError.PRODUCER_FENCED:
            raise ProducerFenced(f"{operation}: producer fenced ({error.str()})") from exc
        if error.fatal():  # not fenced: a new instance of this producer can go on
            raise ProducerFatal(f"{operation}: fatal producer error ({error.str()})") from exc
        if error.txn_requires_abort():
            raise TransactionAborted(f"{operation}: {error.str()}; abort and retry") from exc
        if error.retriable():
            raise _PassingFailure(error.str()) from exc
        raise TransportError(f"{operation}: {error.str()}") from exc


class _Watchdog:
    """One daemon thread that runs calls for a caller who will only wait so long.

    A daemon, so a call stuck for good never keeps the process from exiting."""

    def __init__(self) -> None:
        self._calls: queue.Queue[tuple[Callable[[], Any], list[Any], threading.Event]] = (
            queue.Queue()
        )
        threading.Thread(target=self._serve, name="txn-call", daemon=True).start()

    def _serve(self) -> None:
        while True:
            call, outcome, done = self._calls.get()
            try:
                outcome.append((True, call()))
            except BaseException as exc:  # handed back to the caller as it is
                outcome.append((False, exc))
            done.set()

    def run(self, call: Callable[[], T], timeout_s: float) -> T:
        outcome: list[Any] = []
        done = threading.Event()
        self._calls.put((call, outcome, done))
        if not done.wait(timeout_s):
            raise TimeoutError
        ok, value = outcome[0]
        if not ok:
            raise value
        return value


class KafkaProducer:
    """A confluent-kafka Producer behind the :class:`~.base.Producer` interface."""

    def __init__(self, config: dict[str, Any]) -> None:
        self._broken = False
        self._watchdog = _Watchdog()
        self._failures = 0
        self._refused = 0
        self.last_failure: str | None = None
        # Records produced without a callback of their own report here: failures are counted.
        self._producer = confluent_kafka.Producer(config | {"on_delivery": self._on_delivery})

    def _on_delivery(self, error: KafkaError | None, message: Any) -> None:
        if error is not None:
            self._failures += 1
            self._refused += error.code() in _PERMANENT
            self.last_failure = error.str()

    def delivery_failures(self) -> int:
        return self._failures

    def refused_for_good(self) -> int:
        return self._refused

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
        kwargs: dict[str, Any] = {}
        if partition is not None:
            kwargs["partition"] = partition
        if timestamp_ms is not None:
            kwargs["timestamp"] = timestamp_ms
        if headers:
            kwargs["headers"] = list(headers)
        if on_delivery is not None:
            kwargs["on_delivery"] = _adapt_delivery(on_delivery, self._on_delivery)
        while True:
            try:
                self._producer.produce(topic, value, key, **kwargs)
                return
            except BufferError:
                # The local queue is full: serve deliveries to make room, then try again.
                self._producer.poll(0.05)
            except KafkaException as exc:
                error = exc.args[0]
                raise TransportError(
                    f"produce to {topic} failed: {error.str()}",
                    retriable=error.code() not in _PERMANENT,
                ) from exc

    def poll(self, timeout_s: float = 0.0) -> int:
        return int(self._producer.poll(timeout_s))

    def flush(self, timeout_s: float = 30.0) -> int:
        return int(self._producer.flush(timeout_s))

    def _guarded(self, operation: str, call: Callable[[], T], timeout_s: float) -> T:
        """Run a blocking transactional call with a deadline of our own.

        librdkafka can block in a coordinator request past the timeout it was given when the
        coordinator's broker went away and came back (librdkafka issues #5456, #5511): the
        call runs on a helper thread, and if it has not returned ``WATCHDOG_GRACE_S`` after
        its own timeout this producer is declared broken (TransportError); the caller replaces
        it, and the new producer's init_transactions fences the stuck one."""
        if self._broken:
            raise TransportError(f"{operation}: this producer is broken; start a new one")
        try:
            return self._watchdog.run(call, timeout_s + WATCHDOG_GRACE_S)
        except TimeoutError:
            self._broken = True
            raise TransportError(
                f"{operation} did not return within {timeout_s + WATCHDOG_GRACE_S:.0f} s "
                "(a known librdkafka hang after a coordinator restart)"
            ) from None

    def init_transactions(self, timeout_s: float = 30.0) -> None:
        call = lambda: self._producer.init_transactions(timeout_s)  # noqa: E731
        self._guarded("init_transactions", lambda: _txn_call("init_transactions", call), timeout_s)

    def begin_transaction(self) -> None:
        _txn_call("begin_transaction", self._producer.begin_transaction)

    def send_offsets_to_transaction(
        self, offsets: Mapping[TopicPartition, int], group: GroupMetadata, timeout_s: float = 30.0
    ) -> None:
        tps = _kafka_tps(offsets)
        call = lambda: self._producer.send_offsets_to_transaction(tps, group.native, timeout_s)  # noqa: E731
        self._guarded(
            "send_offsets_to_transaction",
            lambda: _txn_call("send_offsets_to_transaction", call, attempts=1),
            timeout_s,
        )

    def commit_transaction(self, timeout_s: float = 30.0) -> None:
        call = lambda: self._producer.commit_transaction(timeout_s)  # noqa: E731
        self._guarded(
            "commit_transaction",
            lambda: _txn_call("commit_transaction", call, attempts=3),
            3 * timeout_s,
        )

    def abort_transaction(self, timeout_s: float = 30.0) -> None:
        call = lambda: self._producer.abort_transaction(timeout_s)  # noqa: E731
        self._guarded("abort_transaction", lambda: _txn_call("abort_transaction", call), timeout_s)

    def close(self) -> None:
        if self._broken:
            return  # a call is stuck inside it: leave it to be fenced and collected
        try:
            self._producer.flush(5.0)
        except KafkaException as exc:  # a producer in a fatal state cannot flush: it is dropped
            log.warning("closing a producer that cannot flush (%s)", exc.args[0].str())


def _adapt_delivery(
    callback: DeliveryCallback, count: Callable[[KafkaError | None, Any], None]
) -> Callable[[KafkaError | None, Any], None]:
    def on_delivery(error: KafkaError | None, message: Any) -> None:
        if error is not None:
            count(error, message)
            callback(error.str(), None, None)
        else:
            callback(None, TopicPartition(message.topic(), message.partition()), message.offset())

    return on_delivery
