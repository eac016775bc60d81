"""The exactly-once batch loop shared by the detector and the alert processor.

A :class:`Handler` turns a batch of input records into outputs (records to produce) and, per
input partition, a batch of state writes. The :class:`StreamLoop` does the rest, the same way
for every consumer group of ours:

1. consume up to N records;
2. ``handler.handle(records)`` -> outputs + state writes (pure logic, one state read inside);
3. publish (:mod:`.publisher`): exactly-once = one Kafka transaction holding the outputs and the
   consumed offsets; at-least-once = produce, flush, commit offsets;
4. write state (:mod:`.state_writer`): per partition one atomic guarded batch, advancing that
   partition's watermark (``wm:{group}:{topic}``); a batch whose watermark was already applied
   changes nothing.

With ``overlap_writes`` (the detector's default) step 4 runs on a writer thread while the next
batch is consumed, handled and published: the handler (a :class:`StagingHandler`) is told the
step is ``staged`` (its outputs are committed; its state is on its way) and makes the step's
effects visible to the next batch from its own cache, and the write's outcome is settled
(``committed``) just before the next write is sent, so at most one write is in flight.
Rebalances, repairs and close wait for it first. A crash then leaves Redis up to two batches
behind the committed offsets, which the repair below handles like any other lag.

Kafka is committed before Redis is written, so state can only lag the committed offsets. When a
partition is assigned, :meth:`StreamLoop.reconcile` (:mod:`.reconciler`) compares the two: a lag
is repaired by handling the records in between again with ``emit=False`` (state only, no
outputs); state ahead of the offsets (an operator reset them) makes the records below the
watermark leave state alone. An aborted transaction rewinds the consumer to the batch's first
offsets.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from stream_sentinel.clock import SYSTEM_CLOCK, Clock
from stream_sentinel.errors import ProducerFenced, TransactionAborted, TransportError
from stream_sentinel.state.base import StateStore
from stream_sentinel.stream.handler import Handler, Output, StagingHandler, Step
from stream_sentinel.stream.offsets import first_offsets, next_offsets
from stream_sentinel.stream.publisher import Offsets, publisher_for
from stream_sentinel.stream.reconciler import Reconciler
from stream_sentinel.stream.refusals import Refusals
from stream_sentinel.stream.state_writer import StateWriter
from stream_sentinel.stream.watchdog import Watchdog
from stream_sentinel.transport.base import Broker, Consumer, NoopListener, Record, TopicPartition

__all__ = [
    "MAX_REFUSALS",
    "RETRY_PAUSE_S",
    "Handler",
    "LoopStats",
    "Output",
    "StagingHandler",
    "Step",
    "StreamLoop",
    "next_offsets",
]

log = logging.getLogger(__name__)
RETRY_PAUSE_S = 1.0
#: Times in a row one batch may be refused for good (not retriable) before the loop stops.
MAX_REFUSALS = 3


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
        waits: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.broker, self.store, self.handler = broker, store, handler
        # ``clock`` is the pipeline's time (event time in a backtest); pauses and deadlines of
        # I/O are real time, ``waits`` (tests inject a manual clock to run them instantly)
        self.waits = waits
        self.watchdog = watchdog  # kicked once per poll: a loop stuck in a batch ends the process
        self.overlap_writes = overlap_writes
        self.group_id, self.topic = group_id, topic
        self.transactional_id = transactional_id
        self.max_batch, self.poll_timeout_s = max_batch, poll_timeout_s
        self.max_batch_burst = max(max_batch_burst or max_batch, max_batch)
        self._batch_size = max_batch
        self.clock, self.low_latency = clock, low_latency
        self.stats = LoopStats()
        self.consumer: Consumer | None = None
        self._closing = False
        self.publisher = publisher_for(guarantee, broker, transactional_id, low_latency)
        self.writer = StateWriter(
            store,
            handler,
            group_id=group_id,
            topic=topic,
            overlap=overlap_writes,
            on_diverged=self._rebuild,
        )
        self.reconciler = Reconciler(
            broker, handler, self.writer, max_batch=max_batch, waits=waits, progress=self._kick
        )
        self.refusals = Refusals(MAX_REFUSALS)
        self._staging = _staging(handler) if overlap_writes else None

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self) -> None:
        self.publisher.start()
        self.consumer = self.broker.consumer(self.group_id, low_latency=self.low_latency)
        self.consumer.subscribe([self.topic], self)
        self.writer.start()

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
        self.writer.close()
        if self.consumer is not None:
            self.consumer.close()
            self.consumer = None
        self.publisher.close()

    def poll(self, limit: int | None = None) -> int:
        """Consume and process one batch (of at most ``limit`` records); returns its size."""
        assert self.consumer is not None, "start() the loop first"
        self._kick()
        size = self._batch_size if limit is None else max(1, min(self._batch_size, limit))
        records = self.consumer.consume(size, self.poll_timeout_s)
        if records:
            self.process(records)
        else:
            self.settle()  # idle: report the last batch's write now, not with the next batch
        # Adaptive batches: a full batch means a backlog, so the next may grow (doubling up to
        # the burst size) and the per-transaction cost of the commit shrinks; a partial batch
        # means we are caught up, so batches drop back to max_batch and stay small for latency.
        grown = min(self._batch_size * 2, self.max_batch_burst)
        self._batch_size = grown if len(records) >= self._batch_size else self.max_batch
        return len(records)

    def _kick(self) -> None:
        if self.watchdog is not None:
            self.watchdog.kick(self.transactional_id)

    # -- one batch ----------------------------------------------------------------------------
    def process(self, records: Sequence[Record]) -> Step | None:
        step = self.handler.handle(records, self.reconciler.applies(records), emit=True)
        offsets = next_offsets(records, self.consumer)
        if not self._publish(records, step, offsets):
            return None
        self.refusals.reset()
        self.stats.records += len(records)
        self.stats.batches += 1
        self.stats.max_batch = max(self.stats.max_batch, len(records))
        next_by_partition = {tp.partition: o for tp, o in offsets.items()}
        if self._staging is None:
            self.handler.committed(step, self.write_state(step, next_by_partition))
        else:
            self._stage(self._staging, step, next_by_partition)
        return step

    def _publish(self, records: Sequence[Record], step: Step, offsets: Offsets) -> bool:
        """Publish the step; False when the batch was not committed (it will be re-read)."""
        consumer, publisher = self.consumer, self.publisher
        assert consumer is not None
        refused_before = publisher.refused_for_good()
        try:
            publisher.publish(step.outputs, offsets, consumer)
        except TransactionAborted as exc:
            # a delivery the broker refused for good (too large) also ends in an abort
            self.refusals.count(records, exc, publisher.refused_for_good() > refused_before)
            self._rewind(records, exc)
            return False
        except ProducerFenced:
            raise
        except TransportError as exc:
            # The broker is unreachable or a call timed out, so the outcome may be unknown: a
            # commit that timed out can still complete.
            log.warning("publishing failed (%s)", exc)
            if not publisher.recover(offsets, consumer):
                self.refusals.count(records, exc, not exc.retriable)
                log.warning("the batch was not committed; re-reading it in %.0f s", RETRY_PAUSE_S)
                self._rewind(records, exc)
                self.waits.sleep(RETRY_PAUSE_S)
                return False
            log.warning("the batch was committed after all; carrying on")
            return True
        self.stats.last_commit_ms = self.clock.now_ms()
        return True

    def _stage(
        self, staging: StagingHandler, step: Step, next_by_partition: dict[int, int]
    ) -> None:
        """Send the step's state write to the writer thread, once the previous one is settled.

        The previous write's outcome decides this one's guards. Where it had to be rebuilt from
        the input topic, this batch was handled from a cache built on what Redis had lost: its
        computed writes are dropped and its records re-applied to the repaired state."""
        rebuilt = self.settle() & set(next_by_partition)
        step.staged = True
        staging.staged(step)
        for partition in sorted(rebuilt):
            end = next_by_partition.pop(partition)
            self.stats.repaired += self.reconciler.reapply_batch(self.consumer, partition, end)
        self.writer.submit(step, next_by_partition)

    def settle(self) -> set[int]:
        """Wait for the state write in flight (if any) and act on its outcome; returns the
        partitions whose state had to be rebuilt from the input topic instead."""
        return self.writer.settle()

    def write_state(self, step: Step, next_offsets: dict[int, int]) -> dict[int, bool]:
        """Each partition's state writes, atomically with its watermark (one round trip).

        Returns, per partition, whether the step's writes were applied. A watermark behind the
        one this worker last wrote means Redis lost writes: that partition's state is rebuilt
        from the input topic up to ``next_offsets`` instead (and reported as not applied).
        """
        return self.writer.write(step, next_offsets)

    def _rebuild(self, partition: int, end: int) -> None:
        """A write of ``partition`` diverged (Redis lost writes): rebuild it up to ``end``."""
        self.stats.divergences += 1
        self.stats.repaired += self.reconciler.rebuild(self.consumer, partition, end)

    def _rewind(self, records: Sequence[Record], exc: Exception) -> None:
        self.stats.aborted += 1
        assert self.consumer is not None
        first = first_offsets(records)
        log.warning("transaction aborted (%s); re-reading %d partition(s)", exc, len(first))
        assigned = set(self.consumer.assignment())
        for tp, offset in first.items():
            if tp in assigned:
                self.consumer.seek(tp, offset)

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
            self.reconciler.forget(gone)
            self.writer.forget(gone)
            self.handler.forget(gone)

    def on_lost(self, partitions: list[TopicPartition]) -> None:
        self.on_revoke(partitions)

    def reconcile(self, partitions: list[TopicPartition]) -> int:
        """Bring state in line with the committed offsets; returns the records re-applied."""
        assert self.consumer is not None
        return self.reconciler.reconcile(self.consumer, partitions)


def _staging(handler: Handler) -> StagingHandler:
    """The handler, checked once: overlapped writes tell it when a step is staged."""
    if not isinstance(handler, StagingHandler):
        raise TypeError(
            f"overlap_writes needs a handler with staged(step) ({type(handler).__name__} has "
            "none): implement it, or run the loop without overlap_writes"
        )
    return handler
