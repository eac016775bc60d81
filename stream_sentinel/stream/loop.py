"""The exactly-once batch loop shared by the detector and the alert processor.

A :class:`Handler` turns a batch of input records into outputs (records to produce) and, per
input partition, a batch of state writes. The :class:`StreamLoop` does the rest, the same way
for every consumer group of ours:

1. consume up to N records;
2. ``handler.handle(records)`` -> outputs + state writes (pure logic, one state read inside);
3. publish: exactly-once = one Kafka transaction holding the outputs and the consumed offsets;
   at-least-once = produce, flush, commit offsets;
4. write state: per partition one atomic guarded batch, advancing that partition's watermark
   (``wm:{group}:{topic}``); a batch whose watermark was already applied changes nothing.

With ``overlap_writes`` (the detector's default) step 4 runs on a writer thread while the next
batch is consumed, handled and published: the handler is told the step is ``staged`` (its
outputs are committed; its state is on its way) and makes the step's effects visible to the
next batch from its own cache, and the write's outcome is settled (``committed``) just before
the next write is sent, so at most one write is in flight. Rebalances, repairs and close wait
for it first. A crash then leaves Redis up to two batches behind the committed offsets, which
the repair below handles like any other lag.

Kafka is committed before Redis is written, so state can only lag the committed offsets. When a
partition is assigned, :meth:`StreamLoop.reconcile` compares the two: a lag is repaired by
handling the records in between again with ``emit=False`` (state only, no outputs); state ahead
of the offsets (an operator reset them) makes the records below the watermark leave state alone.
An aborted transaction rewinds the consumer to the batch's first offsets.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import numpy as np

from stream_sentinel.clock import SYSTEM_CLOCK, Clock
from stream_sentinel.errors import (
    ProducerFenced,
    TransactionAborted,
    TransportError,
    UnpublishableBatch,
)
from stream_sentinel.state import keys
from stream_sentinel.state.base import Batch, Guard, Outcome, StateStore
from stream_sentinel.stream.watchdog import Watchdog
from stream_sentinel.transport.base import Broker, Consumer, NoopListener, Record, TopicPartition

log = logging.getLogger(__name__)
REPAIR_TIMEOUT_S = 120.0
RETRY_PAUSE_S = 1.0
# Short enough that a stalled coordinator sends us back to poll() (and the group) quickly.
OFFSETS_TIMEOUT_S = 10.0
COMMIT_TIMEOUT_S = 20.0
#: Times in a row one batch may be refused for good (not retriable) before the loop stops.
MAX_REFUSALS = 3


class RepairConflict(Exception):
    """While repairing a partition, its watermark moved under us: someone else writes it."""

    def __init__(self, partition: int) -> None:
        super().__init__(f"partition {partition}: watermark moved during repair")
        self.partition = partition


@dataclass
class Step:
    """What handling one batch produced."""

    outputs: list[tuple[str, bytes | None, bytes]] = field(
        default_factory=list
    )  # topic, key, value
    state: dict[int, Batch] = field(default_factory=dict)  # input partition -> state writes
    payload: Any = None  # the handler's own result, handed back in committed()
    staged: bool = False  # staged() was called: its outputs were committed before the write


class Handler(Protocol):
    def handle(self, records: Sequence[Record], applies: np.ndarray, emit: bool) -> Step:
        """Outputs and state writes for ``records``; rows where ``applies`` is False must not
        change state; with ``emit`` False (repair) no outputs are wanted."""

    def staged(self, step: Step) -> None:
        """The step's outputs are committed and its state write is under way: the next batch
        must see its effects (from the handler's cache) as if the write were done."""

    def committed(self, step: Step, applied: dict[int, bool]) -> None:
        """The step's outputs are committed and its state written (applied per partition)."""

    def forget(self, partitions: list[int]) -> None:
        """These partitions now belong to another worker: drop what is cached for them."""


@dataclass
class LoopStats:
    records: int = 0
    batches: int = 0
    max_batch: int = 0
    aborted: int = 0
    repaired: int = 0
    divergences: int = 0
    last_commit_ms: int = 0


class StreamLoop(NoopListener):
    """One member of a consumer group running a :class:`Handler` (see the module docstring)."""

    def __init__(
        self,
        broker: Broker,
        store: StateStore,
        handler: Handler,
        *,
        group_id: str,
        topic: str,
        guarantee: Literal["exactly-once", "at-least-once"],
        transactional_id: str,
        max_batch: int,
        poll_timeout_s: float,
        max_batch_burst: int | None = None,
        clock: Clock = SYSTEM_CLOCK,
        low_latency: bool | None = None,
        overlap_writes: bool = False,
        watchdog: Watchdog | None = None,
    ) -> None:
        self.broker, self.store, self.handler = broker, store, handler
        self.watchdog = watchdog  # kicked once per poll: a loop stuck in a batch ends the process
        self.overlap_writes = overlap_writes
        self.group_id, self.topic = group_id, topic
        self.exactly_once = guarantee == "exactly-once"
        self.transactional_id = transactional_id
        self.max_batch, self.poll_timeout_s = max_batch, poll_timeout_s
        # Adaptive batches: a full batch means a backlog, so the next may grow (doubling up to
        # the burst size) and the per-transaction cost of the commit shrinks; a partial batch
        # means we are caught up, so batches drop back to max_batch and stay small for latency.
        self.max_batch_burst = max(max_batch_burst or max_batch, max_batch)
        self._batch_size = max_batch
        self.clock = clock
        self.low_latency = low_latency
        self.watermark_key = keys.watermark(group_id, topic)
        self.stats = LoopStats()
        self.consumer: Consumer | None = None
        self._producer: Any = None
        self._skip_state_until: dict[int, int] = {}
        self._expected: dict[int, int | None] = {}  # partition -> the watermark we last wrote
        self._repairing: set[int] = set()
        self._closing = False
        self._writer: ThreadPoolExecutor | None = None
        self._pending: _PendingWrite | None = None
        self._refusals: tuple[Any, int] = (None, 0)  # (the batch refused, times in a row)

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self) -> None:
        txn_id = self.transactional_id if self.exactly_once else None
        self._producer = self.broker.producer(transactional_id=txn_id, low_latency=self.low_latency)
        if self.exactly_once:
            self._producer.init_transactions(30.0)
        self.consumer = self.broker.consumer(self.group_id, low_latency=self.low_latency)
        self.consumer.subscribe([self.topic], self)
        if self.overlap_writes:
            self._writer = ThreadPoolExecutor(1, thread_name_prefix=f"{self.group_id}-state")

    def close(self) -> None:
        # Leaving the group may still serve a pending assignment inside close(): skip its
        # reconciliation, the next owner does it.
        self._closing = True
        if self.watchdog is not None:
            self.watchdog.leave(self.transactional_id)
        try:
            self.settle()
        finally:
            self._close_clients()

    def _close_clients(self) -> None:
        if self._writer is not None:
            self._writer.shutdown(wait=True)
            self._writer = None
        if self.consumer is not None:
            self.consumer.close()
            self.consumer = None
        if self._producer is not None:
            self._producer.close()
            self._producer = None

    def poll(self, limit: int | None = None) -> int:
        """Consume and process one batch (of at most ``limit`` records); returns its size."""
        assert self.consumer is not None, "start() the loop first"
        if self.watchdog is not None:
            self.watchdog.kick(self.transactional_id)
        size = self._batch_size if limit is None else max(1, min(self._batch_size, limit))
        records = self.consumer.consume(size, self.poll_timeout_s)
        if records:
            self.process(records)
        else:
            self.settle()  # idle: report the last batch's write now, not with the next batch
        grown = min(self._batch_size * 2, self.max_batch_burst)
        self._batch_size = grown if len(records) >= self._batch_size else self.max_batch
        return len(records)

    # -- one batch ----------------------------------------------------------------------------
    def process(self, records: Sequence[Record]) -> Step | None:
        step = self.handler.handle(records, self._applies(records), emit=True)
        offsets = next_offsets(records, self.consumer)
        refused_before = self._producer.refused_for_good()
        try:
            self._publish(step, offsets)
        except TransactionAborted as exc:
            # a delivery the broker refused for good (too large) also ends in an abort
            self._count_refusal(records, exc, self._producer.refused_for_good() > refused_before)
            self._rewind(records, exc)
            return None
        except ProducerFenced:
            raise
        except TransportError as exc:
            # The broker is unreachable or a call timed out, so the outcome may be unknown: a
            # commit that timed out can still complete. Start the transaction machinery afresh
            # (a new producer settles any transaction left open) and then look: committed after
            # all -> carry on; not committed -> re-read the batch.
            log.warning("publishing failed (%s)", exc)
            self._reset_producer()
            if not self._committed_anyway(offsets):
                self._count_refusal(records, exc, not exc.retriable)
                log.warning("the batch was not committed; re-reading it in %.0f s", RETRY_PAUSE_S)
                self._rewind(records, exc)
                time.sleep(RETRY_PAUSE_S)
                return None
            log.warning("the batch was committed after all; carrying on")
        self._refusals = (None, 0)
        self.stats.records += len(records)
        self.stats.batches += 1
        self.stats.max_batch = max(self.stats.max_batch, len(records))
        next_by_partition = {tp.partition: o for tp, o in offsets.items()}
        if self._writer is None:
            self.handler.committed(step, self.write_state(step, next_by_partition))
            return step
        # The previous write: its outcome decides this one's guards. Where it had to be rebuilt
        # from the input topic, this batch was handled from a cache built on what Redis had
        # lost: its computed writes are dropped and its records re-applied to the repaired state.
        rebuilt = self.settle() & set(next_by_partition)
        step.staged = True
        self.handler.staged(step)
        for partition in sorted(rebuilt):
            self._reapply_batch(partition, next_by_partition.pop(partition))
        partitions, items = self._guarded_items(step, next_by_partition)
        future = self._writer.submit(self.store.apply_guarded_many, items)
        self._pending = _PendingWrite(step, next_by_partition, partitions, future)
        return step

    def settle(self) -> set[int]:
        """Wait for the state write in flight (if any) and act on its outcome; returns the
        partitions whose state had to be rebuilt from the input topic instead."""
        pending = self._pending
        if pending is None:
            return set()
        try:
            outcomes = pending.future.result()
        except BaseException:
            if pending.future.done():  # the write failed: reported here, once
                self._pending = None
            raise  # else interrupted while waiting: close() settles it
        self._pending = None
        applied, rebuilt = self._settle(pending.partitions, outcomes, pending.next_offsets)
        self.handler.committed(pending.step, applied)
        return rebuilt

    def _reapply_batch(self, partition: int, end: int) -> None:
        """Apply a handled batch's records of ``partition`` again, from Redis (just rebuilt)."""
        self.handler.forget([partition])
        tp = TopicPartition(self.topic, partition)
        mine = self.consumer is not None and tp in self.consumer.assignment()
        if not mine or partition not in self._expected:
            # no longer ours, or another worker writes it (the rebuild stopped): the owner
            # reconciles it
            self._expected.pop(partition, None)
            return
        self.stats.repaired += self._reapply(tp, self._expected[partition], end)

    def _count_refusal(
        self, records: Sequence[Record], exc: TransportError, for_good: bool
    ) -> None:
        """A batch the broker refuses for good (a record over its size limit) is not retried
        for ever: the third refusal in a row of the batch starting at the same offsets (the
        rewind point; its end may grow as records arrive) stops the loop, with nothing
        skipped. Any other failure resets the count."""
        if not for_good:
            self._refusals = (None, 0)
            return
        batch = tuple(sorted(_first_offsets(records).items()))
        count = self._refusals[1] + 1 if self._refusals[0] == batch else 1
        self._refusals = (batch, count)
        if count >= MAX_REFUSALS:
            where = ", ".join(f"{tp.topic}[{tp.partition}] from {o}" for tp, o in batch)
            raise UnpublishableBatch(
                f"the outputs of the batch starting at {where} were refused {count} times "
                f"({exc}); stopping rather than skipping it. Find the record with "
                "`stream-sentinel tail`, then raise the limit it breaks (the topic's "
                "max.message.bytes) and restart"
            ) from exc

    def _reset_producer(self) -> None:
        """Abort whatever is open; when the producer is beyond repair, make a new one."""
        if self.exactly_once:
            try:
                self._producer.abort_transaction(10.0)
                return
            except (TransportError, TransactionAborted) as exc:
                log.warning("abort failed (%s); starting a new producer", exc)
        self._producer.close()
        txn_id = self.transactional_id if self.exactly_once else None
        self._producer = self.broker.producer(transactional_id=txn_id, low_latency=self.low_latency)
        if self.exactly_once:
            self._producer.init_transactions(60.0)

    def _committed_anyway(self, offsets: dict[TopicPartition, int]) -> bool:
        """Whether the group's committed offsets already are the batch's (a commit whose
        acknowledgement was lost). At-least-once never counts as committed: replay is safe."""
        if not self.exactly_once or self.consumer is None:
            return False
        try:
            committed = self.consumer.committed(list(offsets), 30.0)
        except TransportError:
            return False
        return all(committed.get(tp) == offset for tp, offset in offsets.items())

    def _publish(self, step: Step, offsets: dict[TopicPartition, int]) -> None:
        producer = self._producer
        assert self.consumer is not None
        if self.exactly_once:
            producer.begin_transaction()
        failed_before = producer.delivery_failures()
        try:
            for topic, key, value in step.outputs:
                producer.produce(topic, value, key)
            if self.exactly_once:
                group = self.consumer.group_metadata()
                producer.send_offsets_to_transaction(offsets, group, OFFSETS_TIMEOUT_S)
                producer.commit_transaction(COMMIT_TIMEOUT_S)
            else:
                if producer.flush(60.0):
                    raise TransactionAborted("outputs were not delivered within 60 s")
                failed = producer.delivery_failures() - failed_before
                if failed:  # never commit offsets past an output that was not delivered
                    raise TransactionAborted(f"{failed} output(s) failed delivery")
                # At-least-once: the outputs are delivered, so the offsets may commit in the
                # background. A commit lost in a crash only replays outputs (allowed here);
                # state is guarded by its watermark either way.
                self.consumer.commit(offsets, asynchronous=True)
        except TransactionAborted:
            if self.exactly_once:
                producer.abort_transaction(30.0)
            raise
        self.stats.last_commit_ms = self.clock.now_ms()

    def write_state(self, step: Step, next_offsets: dict[int, int]) -> dict[int, bool]:
        """Each partition's state writes, atomically with its watermark (one round trip).

        Returns, per partition, whether the step's writes were applied. A watermark behind the
        one this worker last wrote means Redis lost writes: that partition's state is rebuilt
        from the input topic up to ``next_offsets`` instead (and reported as not applied).
        """
        self.settle()
        partitions, items = self._guarded_items(step, next_offsets)
        outcomes = self.store.apply_guarded_many(items)
        return self._settle(partitions, outcomes, next_offsets)[0]

    def _guarded_items(
        self, step: Step, next_offsets: dict[int, int]
    ) -> tuple[list[int], list[tuple[Guard, Batch]]]:
        partitions = sorted(next_offsets)
        items = [
            (self._guard(p, next_offsets[p]), step.state.get(p) or Batch()) for p in partitions
        ]
        return partitions, items

    def _settle(
        self, partitions: list[int], results: list[Outcome], next_offsets: dict[int, int]
    ) -> tuple[dict[int, bool], set[int]]:
        """Act on a write's outcomes: returns, per partition, whether it was applied, and the
        partitions rebuilt from the input topic because Redis had lost writes."""
        outcomes = dict(zip(partitions, results, strict=True))
        rebuilt = set()
        for partition, outcome in outcomes.items():
            if outcome is Outcome.APPLIED:
                self._expected[partition] = next_offsets[partition]
            elif outcome is Outcome.REPLAYED:
                log.info(
                    "%s[%d]: state up to offset %d was already applied (a replay)",
                    self.topic,
                    partition,
                    next_offsets[partition],
                )
                # e.g. our own write, retried after its reply was lost: follow the watermark
                self._expected[partition] = self._watermarks().get(partition)
            elif partition in self._repairing:
                raise RepairConflict(partition)
            else:
                self._rebuild(partition, next_offsets[partition])
                rebuilt.add(partition)
        return {p: outcome is Outcome.APPLIED for p, outcome in outcomes.items()}, rebuilt

    def _guard(self, partition: int, next_offset: int) -> Guard:
        if partition in self._expected:
            expect = self._expected[partition]
            return Guard(keys.PIPELINE, self.watermark_key, str(partition), next_offset, expect)
        return Guard(keys.PIPELINE, self.watermark_key, str(partition), next_offset)

    def _rebuild(self, partition: int, end: int) -> None:
        """Redis lost writes (e.g. it crashed under AOF everysec): re-apply from its watermark."""
        self.stats.divergences += 1
        tp = TopicPartition(self.topic, partition)
        if self.consumer is None or tp not in self.consumer.assignment():
            # we lost the partition meanwhile: its new owner reconciles it
            self.handler.forget([partition])
            self._expected.pop(partition, None)
            return
        applied = self._watermarks().get(partition)
        log.warning(
            "%s[%d]: Redis lost writes (watermark %s, this worker wrote %s); "
            "re-applying state from the input topic",
            self.topic,
            partition,
            applied,
            self._expected.get(partition),
        )
        self.handler.forget([partition])
        self._expected.pop(partition, None)
        self.stats.repaired += self._reapply(TopicPartition(self.topic, partition), applied, end)

    def _rewind(self, records: Sequence[Record], exc: Exception) -> None:
        self.stats.aborted += 1
        assert self.consumer is not None
        first = _first_offsets(records)
        log.warning("transaction aborted (%s); re-reading %d partition(s)", exc, len(first))
        assigned = set(self.consumer.assignment())
        for tp, offset in first.items():
            if tp in assigned:
                self.consumer.seek(tp, offset)

    def _applies(self, records: Sequence[Record]) -> np.ndarray:
        applies = np.ones(len(records), dtype=bool)
        if self._skip_state_until:
            for i, record in enumerate(records):
                until = self._skip_state_until.get(record.partition() or 0)
                if until is not None and (record.offset() or 0) < until:
                    applies[i] = False
        return applies

    # -- rebalances ---------------------------------------------------------------------------
    def on_assign(self, partitions: list[TopicPartition]) -> None:
        mine = [tp for tp in partitions if tp.topic == self.topic]
        if mine and not self._closing:
            self.settle()
            self.stats.repaired += self.reconcile(mine)

    def on_revoke(self, partitions: list[TopicPartition]) -> None:
        # Batches run to completion before consume() serves a rebalance, and the state write
        # still in flight is finished here, before the partitions go: outputs and offsets are
        # committed and state is written. Then drop caches (also when the write failed).
        gone = [tp.partition for tp in partitions if tp.topic == self.topic]
        try:
            self.settle()
        finally:
            for partition in gone:
                self._skip_state_until.pop(partition, None)
                self._expected.pop(partition, None)
            self.handler.forget(gone)

    def on_lost(self, partitions: list[TopicPartition]) -> None:
        self.on_revoke(partitions)

    def _watermarks(self) -> dict[int, int]:
        [fields] = self.store.execute(Batch().hgetall(keys.PIPELINE, self.watermark_key))
        return {int(p): int(v) for p, v in fields.items()}

    def reconcile(self, partitions: list[TopicPartition]) -> int:
        """Bring state in line with the committed offsets; returns the records re-applied."""
        assert self.consumer is not None
        watermarks = self._watermarks()
        committed = self.consumer.committed(partitions, 30.0)
        repaired = 0
        for tp in partitions:
            applied, decided = watermarks.get(tp.partition), committed.get(tp)
            if applied is not None and (decided is None or applied > decided):
                log.warning(
                    "%s: state is ahead of the committed offset (%s < %d); records below %d "
                    "will be handled without touching state",
                    tp,
                    decided,
                    applied,
                    applied,
                )
                self._skip_state_until[tp.partition] = applied
            elif decided is not None and (applied is None or applied < decided):
                repaired += self._reapply(tp, applied, decided)
            else:
                self._expected[tp.partition] = applied
        return repaired

    def _reapply(self, tp: TopicPartition, applied: int | None, decided: int) -> int:
        """Re-apply the input between the state's watermark and ``decided``, chaining each
        write on the watermark this repair read: a second writer (a zombie owner) makes it
        stop instead of applying records twice."""
        reader = self.broker.consumer(None)
        self._expected[tp.partition] = applied
        self._repairing.add(tp.partition)
        try:
            start = applied if applied is not None else reader.watermarks(tp)[0]
            if start >= decided:
                return 0
            log.warning(
                "%s: state lags the committed offset (%d < %d): re-applying up to %d record(s)",
                tp,
                start,
                decided,
                decided - start,
            )
            reader.assign({tp: start})
            return self._apply_range(reader, tp, decided)
        except RepairConflict:
            log.error(
                "%s: another worker is writing this partition's state; this one stops "
                "repairing it and leaves it to the group's current owner",
                tp,
            )
            self.handler.forget([tp.partition])
            self._expected.pop(tp.partition, None)
            return 0
        finally:
            self._repairing.discard(tp.partition)
            reader.close()

    def _apply_range(self, reader: Consumer, tp: TopicPartition, end: int) -> int:
        deadline = time.monotonic() + REPAIR_TIMEOUT_S
        count = 0
        while time.monotonic() < deadline:
            if self.watchdog is not None:  # a long repair is progress too
                self.watchdog.kick(self.transactional_id)
            records = [r for r in reader.consume(self.max_batch, 0.5) if (r.offset() or 0) < end]
            position = reader.position(tp)
            done = position is not None and position >= end
            if records:
                step = self.handler.handle(records, np.ones(len(records), bool), emit=False)
                last = max(r.offset() or 0 for r in records) + 1
                applied = self.write_state(step, {tp.partition: end if done else last})
                self.handler.committed(step, applied)
                count += len(records)
                done = done or last >= end
            elif done:
                self.write_state(Step(), {tp.partition: end})
            if done:
                self._expected[tp.partition] = end
                return count
        raise TimeoutError(f"{tp}: could not re-read offsets up to {end} in {REPAIR_TIMEOUT_S} s")


def _tp(record: Record) -> TopicPartition:
    return TopicPartition(record.topic() or "", record.partition() or 0)


def _first_offsets(records: Sequence[Record]) -> dict[TopicPartition, int]:
    """Per partition, the offset of the batch's first record (where a rewind goes back to)."""
    first: dict[TopicPartition, int] = {}
    for record in records:
        first.setdefault(_tp(record), record.offset() or 0)
    return first


def next_offsets(records: Sequence[Record], consumer: Consumer | None) -> dict[TopicPartition, int]:
    """Per partition, the offset to resume from: past the batch (and past trailing markers)."""
    offsets: dict[TopicPartition, int] = {}
    for record in records:
        tp = _tp(record)
        offsets[tp] = max(offsets.get(tp, 0), (record.offset() or 0) + 1)
    if consumer is not None:
        for tp, offset in offsets.items():
            position = consumer.position(tp)
            if position is not None and position > offset:
                offsets[tp] = position
    return offsets


@dataclass
class _PendingWrite:
    """A step's state write on the writer thread, with what settling it needs."""

    step: Step
    next_offsets: dict[int, int]
    partitions: list[int]
    future: Future[list[Outcome]]
