"""The drift service's consumer group: ``drift-group`` on ``decision-features``, exactly-once.

One loop per process; a second process (``--instance``) shares the partitions. The windows'
counts are per input partition and the checks idempotent (an alarm's id names it), so two
members never count a row twice; run one member unless the feature log outgrows it.
"""

from __future__ import annotations

from collections.abc import Mapping

from stream_sentinel.clock import SYSTEM_CLOCK, Clock
from stream_sentinel.config.learning import DriftSettings
from stream_sentinel.learning.drift.handler import RULES_ONLY, DriftHandler
from stream_sentinel.learning.registry import ModelRegistry
from stream_sentinel.state.base import StateStore
from stream_sentinel.stream.loop import StreamLoop
from stream_sentinel.transport.base import Broker, TopicPartition
from stream_sentinel.transport.topics import Topics


def drift_group(settings: DriftSettings, topics: Topics) -> str:
    """The service's consumer group: ``drift-group`` under the deployment's topic prefix."""
    return f"{topics.prefix}{settings.group_id}"


def drift_loop(
    broker: Broker,
    store: StateStore,
    handler: DriftHandler,
    settings: DriftSettings,
    topics: Topics,
    max_batch: int = 1000,
    slot: int = 0,
    clock: Clock = SYSTEM_CLOCK,
    poll_timeout_s: float = 0.5,
) -> StreamLoop:
    loop = StreamLoop(
        broker,
        store,
        handler,
        group_id=drift_group(settings, topics),
        topic=topics.decision_features,
        guarantee="exactly-once",
        transactional_id=f"{topics.prefix}drift-{slot}",
        max_batch=max_batch,
        poll_timeout_s=poll_timeout_s,
        clock=clock,
    )
    handler.unread = Unread(broker, loop)
    return loop


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
