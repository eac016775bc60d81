"""Bringing a partition's state in line with the committed offsets.

Kafka is committed before Redis is written, so state can only lag the committed offsets. On an
assignment, :meth:`Reconciler.reconcile` compares the two: a lag is repaired by handling the
records in between again with ``emit=False`` (state only, no outputs); state ahead of the
offsets (an operator reset them) makes the records below the watermark leave state alone
(:meth:`Reconciler.applies`). After a write diverged (Redis lost writes) the partition is
rebuilt from its watermark (:meth:`Reconciler.rebuild`), and a batch handled on the lost state
is applied again on the rebuilt one (:meth:`Reconciler.reapply_batch`).

Every repair write is chained on the watermark the repair read: a second writer (a zombie
owner) makes it stop instead of applying records twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import numpy as np

from stream_sentinel.clock import Clock
from stream_sentinel.stream.handler import Handler, Step
from stream_sentinel.stream.state_writer import RepairConflict, StateWriter
from stream_sentinel.transport.base import Broker, Consumer, Record, TopicPartition

log = logging.getLogger(__name__)
REPAIR_TIMEOUT_S = 120.0
REPAIR_POLL_S = 0.5


class Reconciler:
    """Repairs one consumer group's state for one input topic (see the module docstring).

    ``progress`` is called on every round of a repair (the watchdog: a long repair is progress
    too). Methods that ask whether a partition is still ours take the group's consumer.
    """

    def __init__(
        self,
        broker: Broker,
        handler: Handler,
        writer: StateWriter,
        *,
        max_batch: int,
        waits: Clock,
        progress: Callable[[], None],
    ) -> None:
        self.broker, self.handler, self.writer = broker, handler, writer
        self.topic, self.max_batch = writer.topic, max_batch  # the writer's input topic
        self.waits, self.progress = waits, progress  # real time: a repair's deadline is I/O
        self.skip_state_until: dict[int, int] = {}  # partition -> its watermark, ahead of offsets

    def applies(self, records: Sequence[Record]) -> np.ndarray:
        """Per record, whether it may change state (False below a watermark that is ahead of
        the committed offsets: that record was applied before the operator rewound)."""
        applies = np.ones(len(records), dtype=bool)
        if self.skip_state_until:
            for i, record in enumerate(records):
                until = self.skip_state_until.get(record.partition() or 0)
                if until is not None and (record.offset() or 0) < until:
                    applies[i] = False
        return applies

    def forget(self, partitions: list[int]) -> None:
        """These partitions went to another worker: their next owner reconciles them."""
        for partition in partitions:
            self.skip_state_until.pop(partition, None)

    def reconcile(self, consumer: Consumer, partitions: list[TopicPartition]) -> int:
        """Bring state in line with the committed offsets; returns the records re-applied."""
        watermarks = self.writer.watermarks()
        committed = consumer.committed(partitions, 30.0)
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
                self.skip_state_until[tp.partition] = applied
            elif decided is not None and (applied is None or applied < decided):
                repaired += self._reapply(tp, applied, decided)
            else:
                self.writer.expected[tp.partition] = applied
        return repaired

    def rebuild(self, consumer: Consumer | None, partition: int, end: int) -> int:
        """Redis lost writes (e.g. it crashed under AOF everysec): re-apply from its watermark
        up to ``end``; returns the records re-applied."""
        if not _owns(consumer, TopicPartition(self.topic, partition)):
            # we lost the partition meanwhile: its new owner reconciles it
            self.handler.forget([partition])
            self.writer.forget([partition])
            return 0
        applied = self.writer.watermarks().get(partition)
        log.warning(
            "%s[%d]: Redis lost writes (watermark %s, this worker wrote %s); "
            "re-applying state from the input topic",
            self.topic,
            partition,
            applied,
            self.writer.expected.get(partition),
        )
        self.handler.forget([partition])
        self.writer.forget([partition])
        return self._reapply(TopicPartition(self.topic, partition), applied, end)

    def reapply_batch(self, consumer: Consumer | None, partition: int, end: int) -> int:
        """Apply a handled batch's records of ``partition`` again, from Redis (just rebuilt)."""
        self.handler.forget([partition])
        tp = TopicPartition(self.topic, partition)
        if not _owns(consumer, tp) or partition not in self.writer.expected:
            # no longer ours, or another worker writes it (the rebuild stopped): the owner
            # reconciles it
            self.writer.forget([partition])
            return 0
        return self._reapply(tp, self.writer.expected[partition], end)

    def _reapply(self, tp: TopicPartition, applied: int | None, decided: int) -> int:
        """Re-apply the input between the state's watermark and ``decided``, each write chained
        on the watermark this repair read."""
        reader = self.broker.consumer(None)
        self.writer.expected[tp.partition] = applied
        self.writer.repairing.add(tp.partition)
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
            self.writer.forget([tp.partition])
            return 0
        finally:
            self.writer.repairing.discard(tp.partition)
            reader.close()

    def _apply_range(self, reader: Consumer, tp: TopicPartition, end: int) -> int:
        deadline = self.waits.monotonic() + REPAIR_TIMEOUT_S
        count = 0
        while self.waits.monotonic() < deadline:
            self.progress()
            batch = reader.consume(self.max_batch, REPAIR_POLL_S)
            records = [r for r in batch if (r.offset() or 0) < end]
            position = reader.position(tp)
            done = position is not None and position >= end
            if records:
                step = self.handler.handle(records, np.ones(len(records), bool), emit=False)
                last = max(r.offset() or 0 for r in records) + 1
                applied = self.writer.write(step, {tp.partition: end if done else last})
                self.handler.committed(step, applied)
                count += len(records)
                done = done or last >= end
            elif done:
                self.writer.write(Step(), {tp.partition: end})
            if done:
                self.writer.expected[tp.partition] = end
                return count
        raise TimeoutError(f"{tp}: could not re-read offsets up to {end} in {REPAIR_TIMEOUT_S} s")


def _owns(consumer: Consumer | None, tp: TopicPartition) -> bool:
    return consumer is not None and tp in consumer.assignment()
