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


class _Intake:
    """Decoded records -> writes per input partition; counts what it kept (not in repairs)."""

    def __init__(self, serde: Serde, logical_topic: str) -> None:
        self._decoder = serde.decoder(logical_topic)
        self.kept = 0
        self.undecodable = 0

    def handle(self, records: Sequence[Record], applies: np.ndarray, emit: bool) -> Step:
        decoded, failures = self._decoder.decode_many([r.value() for r in records])
        self.undecodable += len(failures) if emit else 0
        step = Step()
        for record, found, apply in zip(records, decoded, applies, strict=True):
            if found is None or not apply:
                continue
            partition = record.partition() or 0
            self.write(step.state.setdefault(partition, Batch()), partition, found)
            self.kept += emit
        return step

    def write(self, batch: Batch, partition: int, found: dict[str, Any]) -> None:
        raise NotImplementedError

    def committed(self, step: Step, applied: dict[int, bool]) -> None:
        return None

    def forget(self, partitions: list[int]) -> None:
        return None


class FeatureRowIntake(_Intake):
    """``decision-features`` rows into the training set; each partition's latest event time
    is the learner's clock."""

    def __init__(self, serde: Serde) -> None:
        super().__init__(serde, DECISION_FEATURES)

    def write(self, batch: Batch, partition: int, found: dict[str, Any]) -> None:
        row = LoggedRow.of_record(found)
        store.row_writes(batch, row)
        store.clock_write(batch, partition, row.event_time)


class LabelIntake(_Intake):
    """``fraud-feedback`` labels into the training set (every source's, joined later)."""

    def __init__(self, serde: Serde) -> None:
        super().__init__(serde, FRAUD_FEEDBACK)

    def write(self, batch: Batch, partition: int, found: dict[str, Any]) -> None:
        store.label_writes(batch, str(found["transaction_id"]), SourcedLabel.of_record(found))


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
    slot: int = 0,
    max_batch: int = 1000,
    poll_timeout_s: float = 0.2,
    clock: Clock = SYSTEM_CLOCK,
) -> tuple[StreamLoop, StreamLoop]:
    """The group's two members in this process: feature rows, then labels."""
    prefix = f"{topics.prefix}learn"
    features = intake_loop(
        broker,
        state,
        FeatureRowIntake(serde),
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
        LabelIntake(serde),
        topics.fraud_feedback,
        group_id,
        f"{prefix}-labels-{slot}",
        max_batch,
        poll_timeout_s,
        clock,
    )
    return features, labels
