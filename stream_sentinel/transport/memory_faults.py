"""A broker that fails on cue, so tests can show what the pipeline does when Kafka misbehaves.

:class:`FaultyBroker` wraps a broker (the embedded one, usually) and keeps a :class:`Faults`
plan. Every producer it hands out follows the plan. Each planned fault fires once, on the next
matching call made by any of those producers, in the order planned. With nothing planned the
wrapper is the broker it wraps: it passes the same contract suite. Tests plan faults through the
public interface and never replace a client's methods.

>>> from stream_sentinel.transport.base import TopicPartition, TopicSpec
>>> from stream_sentinel.transport.memory import MemoryBroker
>>> broker = FaultyBroker(MemoryBroker())
>>> _ = broker.admin().create_topics([TopicSpec("payments", 1)])
>>> producer = broker.producer(transactional_id="detector-0")
>>> producer.init_transactions()
>>> broker.faults.abort_next_commit("the broker said no")
>>> producer.begin_transaction()
>>> producer.produce("payments", b"lost")
>>> producer.commit_transaction()
Traceback (most recent call last):
    ...
stream_sentinel.errors.TransactionAborted: the broker said no
>>> producer.abort_transaction()
>>> broker.faults.lose_next_commit_reply()
>>> producer.begin_transaction()
>>> producer.produce("payments", b"kept")
>>> producer.commit_transaction()
Traceback (most recent call last):
    ...
stream_sentinel.errors.TransportError: commit_transaction: Local: Timed out
>>> broker.admin().end_offsets([TopicPartition("payments", 0)])  # 2 records + 2 markers
{TopicPartition(topic='payments', partition=0): 4}
>>> broker.faults.pending
0
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import Literal, TypeVar

from stream_sentinel.errors import TransactionAborted, TransportError
from stream_sentinel.transport.base import (
    Admin,
    Broker,
    Consumer,
    DeliveryCallback,
    GroupMetadata,
    Isolation,
    OffsetReset,
    Producer,
    TopicPartition,
)

Call = Literal[
    "init_transactions",
    "begin_transaction",
    "produce",
    "send_offsets_to_transaction",
    "commit_transaction",
    "abort_transaction",
    "flush",
]
Action = Callable[[], None]
T = TypeVar("T")
#: What librdkafka says when a commit's reply does not come back in time.
COMMIT_TIMED_OUT = "commit_transaction: Local: Timed out"
#: What librdkafka reports for a record it gave up delivering after its retries.
DELIVERY_TIMED_OUT = "Broker: Message timed out"


def _raise(error: BaseException) -> Action:
    def fail() -> None:
        raise error

    return fail


class Faults:
    """What the broker's producers get wrong next (safe to plan from another thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._before: dict[str, deque[Action]] = {}
        self._after: dict[str, deque[Action]] = {}
        self._deliveries: deque[str] = deque()

    # -- planning -------------------------------------------------------------------------------
    def before(self, call: Call, action: Action) -> None:
        """Run ``action`` when the next ``call`` starts; if it raises, the call does nothing."""
        with self._lock:
            self._before.setdefault(call, deque()).append(action)

    def after(self, call: Call, action: Action) -> None:
        """Run ``action`` once the next ``call`` has done its work; if it raises, the call's
        reply was lost (the broker did it, the client cannot know)."""
        with self._lock:
            self._after.setdefault(call, deque()).append(action)

    def fail_next(self, call: Call, error: BaseException) -> None:
        """The next ``call`` raises ``error`` and does nothing."""
        self.before(call, _raise(error))

    def abort_next_commit(self, reason: str = "transaction aborted: the broker said no") -> None:
        """The next commit fails with TransactionAborted; nothing of the transaction is
        visible and it must be aborted."""
        self.fail_next("commit_transaction", TransactionAborted(reason))

    def lose_next_commit_reply(self) -> None:
        """The next commit completes on the broker, but the client hears a timeout."""
        self.after("commit_transaction", _raise(TransportError(COMMIT_TIMED_OUT)))

    def fail_deliveries(self, count: int, error: str = DELIVERY_TIMED_OUT) -> None:
        """The next ``count`` records produced are never delivered: their delivery reports
        carry ``error``, and a transaction holding one of them cannot commit."""
        with self._lock:
            self._deliveries.extend([error] * count)

    @property
    def pending(self) -> int:
        """Planned faults that have not fired yet."""
        with self._lock:
            hooks = [*self._before.values(), *self._after.values()]
            return sum(map(len, hooks)) + len(self._deliveries)

    # -- firing ---------------------------------------------------------------------------------
    def run_before(self, call: Call) -> None:
        self._fire(self._before, call)

    def run_after(self, call: Call) -> None:
        self._fire(self._after, call)

    def take_delivery_failure(self) -> str | None:
        """The error of the next record to fail delivery, or None to deliver it."""
        with self._lock:
            return self._deliveries.popleft() if self._deliveries else None

    def _fire(self, plan: dict[str, deque[Action]], call: Call) -> None:
        with self._lock:
            queued = plan.get(call)
            action = queued.popleft() if queued else None
        if action is not None:
            action()


class FaultyProducer:
    """A producer that asks the plan before and after each call it passes on."""

    def __init__(self, inner: Producer, faults: Faults) -> None:
        self._inner, self._faults = inner, faults
        self._undelivered = 0  # records the plan failed, over the producer's life
        self._failed_in_transaction: list[str] = []
        self._reports: list[tuple[DeliveryCallback, str]] = []

    def _call(self, call: Call, work: Callable[[], T]) -> T:
        self._faults.run_before(call)
        result = work()
        self._faults.run_after(call)
        return result

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
        def send() -> None:
            error = self._faults.take_delivery_failure()
            if error is None:
                self._inner.produce(
                    topic,
                    value,
                    key,
                    partition=partition,
                    timestamp_ms=timestamp_ms,
                    headers=headers,
                    on_delivery=on_delivery,
                )
                return
            self._undelivered += 1
            self._failed_in_transaction.append(error)
            if on_delivery is not None:
                self._reports.append((on_delivery, error))

        self._call("produce", send)

    def poll(self, timeout_s: float = 0.0) -> int:
        return self._serve_reports() + self._inner.poll(timeout_s)

    def flush(self, timeout_s: float = 30.0) -> int:
        def flush() -> int:
            self._serve_reports()
            return self._inner.flush(timeout_s)

        return self._call("flush", flush)

    def _serve_reports(self) -> int:
        reports, self._reports = self._reports, []
        for callback, error in reports:
            callback(error, None, None)
        return len(reports)

    def delivery_failures(self) -> int:
        return self._inner.delivery_failures() + self._undelivered

    def refused_for_good(self) -> int:
        return self._inner.refused_for_good()  # a delivery that timed out may succeed next time

    def init_transactions(self, timeout_s: float = 30.0) -> None:
        self._call("init_transactions", lambda: self._inner.init_transactions(timeout_s))

    def begin_transaction(self) -> None:
        def begin() -> None:
            self._inner.begin_transaction()
            self._failed_in_transaction = []

        self._call("begin_transaction", begin)

    def send_offsets_to_transaction(
        self, offsets: Mapping[TopicPartition, int], group: GroupMetadata, timeout_s: float = 30.0
    ) -> None:
        self._call(
            "send_offsets_to_transaction",
            lambda: self._inner.send_offsets_to_transaction(offsets, group, timeout_s),
        )

    def commit_transaction(self, timeout_s: float = 30.0) -> None:
        self._call("commit_transaction", lambda: self._commit(timeout_s))

    def _commit(self, timeout_s: float) -> None:
        failed, self._failed_in_transaction = self._failed_in_transaction, []
        if failed:  # as Kafka: a record that was not delivered aborts its transaction
            self._inner.abort_transaction(timeout_s)
            self._serve_reports()
            raise TransactionAborted(
                f"transaction aborted: {len(failed)} record(s) failed delivery ({failed[0]})"
            )
        self._inner.commit_transaction(timeout_s)

    def abort_transaction(self, timeout_s: float = 30.0) -> None:
        def abort() -> None:
            self._failed_in_transaction = []
            self._inner.abort_transaction(timeout_s)

        self._call("abort_transaction", abort)

    def close(self) -> None:
        self._inner.close()


class FaultyBroker:
    """``inner`` with producers that fail as :attr:`faults` plans (consumers pass through)."""

    def __init__(self, inner: Broker, faults: Faults | None = None) -> None:
        self.inner = inner
        self.faults = faults or Faults()
        self.name = inner.name

    def producer(
        self,
        *,
        transactional_id: str | None = None,
        low_latency: bool | None = None,
        delivery_timeout_ms: int | None = None,
    ) -> FaultyProducer:
        inner = self.inner.producer(
            transactional_id=transactional_id,
            low_latency=low_latency,
            delivery_timeout_ms=delivery_timeout_ms,
        )
        return FaultyProducer(inner, self.faults)

    def consumer(
        self,
        group_id: str | None,
        *,
        isolation: Isolation = "read_committed",
        auto_offset_reset: OffsetReset = "earliest",
        low_latency: bool | None = None,
        partition_fetch_bytes: int | None = None,
    ) -> Consumer:
        return self.inner.consumer(
            group_id,
            isolation=isolation,
            auto_offset_reset=auto_offset_reset,
            low_latency=low_latency,
            partition_fetch_bytes=partition_fetch_bytes,
        )

    def admin(self) -> Admin:
        return self.inner.admin()

    def close(self) -> None:
        self.inner.close()
