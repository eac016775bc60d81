"""The drift service's consumer group: ``drift-group`` on ``decision-features`` and on
``fraud-feedback`` (the labelled performance monitors), exactly-once, one loop per topic.

A second process (``--instance``) shares the partitions. The windows' counts are per input
partition and the checks idempotent (an alarm's id names it), so two members never count a row
twice; run one member unless the feature log outgrows it. Only the member numbered 0 settles
the performance monitors' hours (settling reads and writes their progress without a guard of
its own); the others keep decisions and labels for it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from stream_sentinel.clock import SYSTEM_CLOCK, Clock
from stream_sentinel.config.learning import DriftSettings
from stream_sentinel.learning.drift.decisions import KeepingDecisions
from stream_sentinel.learning.drift.handler import RULES_ONLY, DriftHandler
from stream_sentinel.learning.drift.labelled import LabelledHandler
from stream_sentinel.learning.label_consumer import caught_up
from stream_sentinel.learning.registry import ModelRegistry
from stream_sentinel.state.base import StateStore
from stream_sentinel.stream.loop import StreamLoop
from stream_sentinel.stream.running import UNASSIGNED_GRACE_S
from stream_sentinel.transport.base import Broker, TopicPartition
from stream_sentinel.transport.topics import Topics


def drift_group(settings: DriftSettings, topics: Topics) -> str:
    """The service's consumer group: ``drift-group`` under the deployment's topic prefix."""
    return f"{topics.prefix}{settings.group_id}"


def drift_loop(
    broker: Broker,
    store: StateStore,
    handler: DriftHandler | KeepingDecisions,
    settings: DriftSettings,
    topics: Topics,
    max_batch: int = 1000,
    slot: int = 0,
    clock: Clock = SYSTEM_CLOCK,
    poll_timeout_s: float = 0.5,
) -> StreamLoop:
    """The group's loop on decision-features (the windows and the kept decisions)."""
    return _loop(
        broker,
        store,
        handler,
        settings,
        topics,
        (topics.decision_features, "drift"),
        max_batch,
        slot,
        clock,
        poll_timeout_s,
    )


def labelled_loop(
    broker: Broker,
    store: StateStore,
    handler: LabelledHandler,
    settings: DriftSettings,
    topics: Topics,
    max_batch: int = 1000,
    slot: int = 0,
    clock: Clock = SYSTEM_CLOCK,
    poll_timeout_s: float = 0.5,
) -> StreamLoop:
    """The group's loop on fraud-feedback (the performance monitors' labels)."""
    return _loop(
        broker,
        store,
        handler,
        settings,
        topics,
        (topics.fraud_feedback, "drift-labels"),
        max_batch,
        slot,
        clock,
        poll_timeout_s,
    )


def _loop(
    broker: Broker,
    store: StateStore,
    handler: DriftHandler | KeepingDecisions | LabelledHandler,
    settings: DriftSettings,
    topics: Topics,
    read: tuple[str, str],
    max_batch: int,
    slot: int,
    clock: Clock,
    poll_timeout_s: float,
) -> StreamLoop:
    """One member of drift-group on ``read`` (topic, transactional id stem), told which of its
    partitions still have records to read."""
    topic, stem = read
    loop = StreamLoop(
        broker,
        store,
        handler,
        group_id=drift_group(settings, topics),
        topic=topic,
        guarantee="exactly-once",
        transactional_id=f"{topics.prefix}{stem}-{slot}",
        max_batch=max_batch,
        poll_timeout_s=poll_timeout_s,
        clock=clock,
    )
    handler.unread = Unread(broker, loop)
    return loop


def run_loops(
    loops: Sequence[StreamLoop],
    stopped: Callable[[], bool],
    idle_s: float | None,
    clock: Clock,
    grace_s: float = UNASSIGNED_GRACE_S,
) -> None:
    """Poll the started loops in turn until ``stopped()``, or until every one has been caught
    up (each assigned partition read to its end) with nothing read for ``idle_s``."""
    started = clock.monotonic()
    idle_since: float | None = None
    while not stopped():
        if sum(loop.poll() for loop in loops):
            idle_since = None
            continue
        grace_over = clock.monotonic() - started >= grace_s
        if idle_s is None or not all(caught_up(loop, grace_over) for loop in loops):
            idle_since = None
            continue
        idle_since = clock.monotonic() if idle_since is None else idle_since
        if clock.monotonic() - idle_since >= idle_s:
            return


class Unread:
    """Which input partitions have records the group has not committed yet (two broker calls,
    made only while some partition is far behind the others in event time)."""

    def __init__(self, broker: Broker, loop: StreamLoop) -> None:
        self.broker, self.loop = broker, loop

    def __call__(self, partitions: list[int]) -> set[int]:
        consumer = self.loop.consumer
        if consumer is None:
            return set(partitions)
        tps = [TopicPartition(self.loop.topic, p) for p in partitions]
        ends = self.broker.admin().end_offsets(tps)
        committed = consumer.committed(tps)
        return {tp.partition for tp in tps if (committed.get(tp) or 0) < ends[tp]}


class RegistryBands:
    """A version's risk bands (level -> minimum score) from the model registry; none for
    rules-only rows or a version the registry does not know (its alert rates go unwatched)."""

    def __init__(self, registry: ModelRegistry) -> None:
        self.registry = registry

    def __call__(self, version: str) -> Mapping[str, float]:
        if version == RULES_ONLY:
            return {}
        found = self.registry.find(version)
        return dict(found.bands) if found is not None else {}
