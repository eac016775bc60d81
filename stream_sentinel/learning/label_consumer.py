"""The feedback store's consumer: ``fraud-feedback`` into DB2, each label applied exactly once.

:class:`LabelHandler` plugs into the shared :class:`~stream_sentinel.stream.loop.StreamLoop`: its
writes go into the loop's guarded per-partition state batch, so a label re-read after a crash
or a rebalance changes nothing (the partition watermark guards it) and re-delivered labels are
no-ops besides. Records it cannot decode are skipped and counted: the detector's own feedback
loop dead-letters the same records, and one dead letter per bad record is enough.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from stream_sentinel.clock import SYSTEM_CLOCK, Clock
from stream_sentinel.learning.feedback import FeedbackStore, label_writes
from stream_sentinel.learning.labels import SourcedLabel
from stream_sentinel.state.base import Batch, StateStore
from stream_sentinel.stream.handler import Step
from stream_sentinel.stream.loop import StreamLoop
from stream_sentinel.stream.running import UNASSIGNED_GRACE_S, consumer_caught_up
from stream_sentinel.transport.base import Broker, Record
from stream_sentinel.transport.topics import FRAUD_FEEDBACK, Topics
from stream_sentinel.wire.serde import Serde

GROUP_ID = "feedback-store-group"


class LabelHandler:
    """Decoded Feedback records -> label writes per input partition."""

    def __init__(self, serde: Serde, store: StateStore) -> None:
        self._decoder = serde.decoder(FRAUD_FEEDBACK)
        self._labels = FeedbackStore(store)
        self.labels = 0  # labels that changed what the store holds
        self.unchanged = 0  # re-delivered or older than what is stored
        self.undecodable = 0

    def handle(self, records: Sequence[Record], applies: np.ndarray, emit: bool) -> Step:
        decoded, failures = self._decoder.decode_many([r.value() for r in records])
        self.undecodable += len(failures) if emit else 0
        known = self._labels.known(str(d["transaction_id"]) for d in decoded if d is not None)
        step = Step()
        for record, found, apply in zip(records, decoded, applies, strict=True):
            if found is None or not apply:
                continue
            batch = step.state.setdefault(record.partition() or 0, Batch())
            label = SourcedLabel.of_record(found)
            change = label_writes(batch, known, str(found["transaction_id"]), label)
            if emit:  # a repair re-applies state; its labels were counted the first time
                self.labels += change.changed
                self.unchanged += not change.changed
        return step

    def committed(self, step: Step, applied: dict[int, bool]) -> None:
        return None

    def forget(self, partitions: list[int]) -> None:
        return None


def label_loop(
    broker: Broker,
    store: StateStore,
    handler: LabelHandler,
    topics: Topics,
    max_batch: int = 1000,
    slot: int = 0,
    clock: Clock = SYSTEM_CLOCK,
    poll_timeout_s: float = 0.5,
) -> StreamLoop:
    """The feedback store's consumer group on ``fraud-feedback`` (exactly-once state)."""
    return StreamLoop(
        broker,
        store,
        handler,
        group_id=GROUP_ID,
        topic=topics.fraud_feedback,
        guarantee="exactly-once",
        transactional_id=f"{topics.prefix}feedback-store-{slot}",
        max_batch=max_batch,
        poll_timeout_s=poll_timeout_s,
        clock=clock,
    )


def run_until(
    loop: StreamLoop,
    stopped: Callable[[], bool],
    idle_s: float | None,
    clock: Clock,
    grace_s: float = UNASSIGNED_GRACE_S,
) -> None:
    """Poll the started loop until ``stopped()``, or until it has been caught up for ``idle_s``.

    Idle time counts only once every assigned partition is read to its end, as for the
    detector and the alert processors: before the group assigns partitions nothing is caught
    up, unless no partition comes within ``grace_s`` (another member holds them all)."""
    started = clock.monotonic()
    idle_since: float | None = None
    while not stopped():
        if loop.poll():
            idle_since = None
        elif idle_s is not None and caught_up(loop, clock.monotonic() - started >= grace_s):
            idle_since = clock.monotonic() if idle_since is None else idle_since
            if clock.monotonic() - idle_since >= idle_s:
                return
        else:
            idle_since = None


def caught_up(loop: StreamLoop, grace_over: bool) -> bool:
    """True when every assigned partition has been read to its end (with none assigned: once
    the grace for an assignment is over)."""
    consumer = loop.consumer
    if consumer is None or not consumer.assignment():
        return grace_over
    return consumer_caught_up(consumer)
