"""The learner's consumer group (``learning-group``): ``decision-features`` and
``fraud-feedback`` into the training set, each record applied exactly once.

One :class:`~stream_sentinel.stream.loop.StreamLoop` per topic, both members of the same
group (a member subscribes to one topic; Kafka assigns each topic's partitions among the
members that asked for it). Their writes go into the loop's guarded per-partition state batch
(watermarks ``wm:learning-group:{topic}``), so a record re-read after a crash or a rebalance
changes nothing, and every write is idempotent besides (:mod:`.store`). Records that cannot be
decoded are counted and skipped: the detector and the feedback store dead-letter their own.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from stream_sentinel.clock import SYSTEM_CLOCK, Clock
from stream_sentinel.learning.labels import SourcedLabel
from stream_sentinel.learning.learner import store
from stream_sentinel.learning.learner.rows import LoggedRow
from stream_sentinel.state.base import Batch, StateStore
from stream_sentinel.stream.handler import Step
from stream_sentinel.stream.loop import StreamLoop
from stream_sentinel.transport.base import Broker, Record
from stream_sentinel.transport.topics import DECISION_FEATURES, FRAUD_FEEDBACK, Topics
from stream_sentinel.wire.serde import Serde


class IntakeClock:
    """The learner's event time as its intake sees it: per ``decision-features`` partition the
    latest event time read (seeded from ``learn:clock``, never moving backwards), and their
    maximum. Rows and labels older than ``now - window_ms`` are skipped: a first start on a
    topic's whole retention keeps only the window, and a label for an evicted hour does not
    bring its bucket back."""

    def __init__(self, state: StateStore, window_ms: int) -> None:
        self._state, self.window_ms = state, window_ms
        self._partitions: dict[int, int] | None = None

    def partitions(self) -> dict[int, int]:
        if self._partitions is None:
            self._partitions = store.TrainingSetStore(self._state).partition_clock()
        return self._partitions

    def now(self) -> int | None:
        return max(self.partitions().values(), default=None)

    def advance(self, partition: int, event_time: int) -> int:
        """The partition's clock after reading ``event_time`` (the larger of the two)."""
        held = self.partitions()
        held[partition] = max(held.get(partition, event_time), event_time)
        return held[partition]

    def too_old(self, event_time: int) -> bool:
        now = self.now()
        return now is not None and event_time < now - self.window_ms

    def forget(self) -> None:
        """Read the clock again (another member may have moved a partition meanwhile)."""
        self._partitions = None


class _Intake:
    """Decoded records -> writes per input partition; counts what it kept (not in repairs)."""

    def __init__(self, serde: Serde, logical_topic: str, clock: IntakeClock) -> None:
        self._decoder = serde.decoder(logical_topic)
        self.clock = clock
        self.kept = 0
        self.too_old = 0
        self.undecodable = 0

    def handle(self, records: Sequence[Record], applies: np.ndarray, emit: bool) -> Step:
        decoded, failures = self._decoder.decode_many([r.value() for r in records])
        self.undecodable += len(failures) if emit else 0
        step = Step()
        for record, found, apply in zip(records, decoded, applies, strict=True):
            if found is None or not apply:
                continue
            partition = record.partition() or 0
            if self.write(step.state.setdefault(partition, Batch()), partition, found):
                self.kept += emit
            else:
                self.too_old += emit
        return step

    def write(self, batch: Batch, partition: int, found: dict[str, Any]) -> bool:
        """Add the record's writes; False when it is skipped as older than the window."""
        raise NotImplementedError

    def committed(self, step: Step, applied: dict[int, bool]) -> None:
        return None

    def forget(self, partitions: list[int]) -> None:
        self.clock.forget()


class FeatureRowIntake(_Intake):
    """``decision-features`` rows into the training set; each partition's latest event time
    is the learner's clock."""

    def __init__(self, serde: Serde, clock: IntakeClock) -> None:
        super().__init__(serde, DECISION_FEATURES, clock)

    def write(self, batch: Batch, partition: int, found: dict[str, Any]) -> bool:
        row = LoggedRow.of_record(found)
        store.clock_write(batch, partition, self.clock.advance(partition, row.event_time))
        if self.clock.too_old(row.event_time):
            return False
        store.row_writes(batch, row)
        return True


class LabelIntake(_Intake):
    """``fraud-feedback`` labels into the training set (every source's, joined later)."""

    def __init__(self, serde: Serde, clock: IntakeClock) -> None:
        super().__init__(serde, FRAUD_FEEDBACK, clock)

    def write(self, batch: Batch, partition: int, found: dict[str, Any]) -> bool:
        label = SourcedLabel.of_record(found)
        if self.clock.too_old(label.event_time):
            return False
        store.label_writes(batch, str(found["transaction_id"]), label)
        return True


def intake_loop(
    broker: Broker,
    state: StateStore,
    intake: _Intake,
    topic: str,
    group_id: str,
    transactional_id: str,
    max_batch: int,
    poll_timeout_s: float,
    clock: Clock = SYSTEM_CLOCK,
) -> StreamLoop:
    return StreamLoop(
        broker,
        state,
        intake,
        group_id=group_id,
        topic=topic,
        guarantee="exactly-once",
        transactional_id=transactional_id,
        max_batch=max_batch,
        poll_timeout_s=poll_timeout_s,
        clock=clock,
    )


def learner_loops(
    broker: Broker,
    state: StateStore,
    serde: Serde,
    topics: Topics,
    group_id: str,
    window_ms: int,
    slot: int = 0,
    max_batch: int = 1000,
    poll_timeout_s: float = 0.2,
    clock: Clock = SYSTEM_CLOCK,
) -> tuple[StreamLoop, StreamLoop]:
    """The group's two members in this process: feature rows, then labels (one event clock)."""
    prefix = f"{topics.prefix}learn"
    event_clock = IntakeClock(state, window_ms)
    features = intake_loop(
        broker,
        state,
        FeatureRowIntake(serde, event_clock),
        topics.decision_features,
        group_id,
        f"{prefix}-features-{slot}",
        max_batch,
        poll_timeout_s,
        clock,
    )
    labels = intake_loop(
        broker,
        state,
        LabelIntake(serde, event_clock),
        topics.fraud_feedback,
        group_id,
        f"{prefix}-labels-{slot}",
        max_batch,
        poll_timeout_s,
        clock,
    )
    return features, labels
