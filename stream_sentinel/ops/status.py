"""What `stream-sentinel status` reports: our consumer groups, their lag and their workers."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from stream_sentinel.config import Settings
from stream_sentinel.learning.drift.service import drift_group
from stream_sentinel.learning.label_consumer import GROUP_ID as FEEDBACK_STORE_GROUP
from stream_sentinel.state import keys
from stream_sentinel.state.base import Batch, StateStore
from stream_sentinel.transport.base import Admin, TopicPartition
from stream_sentinel.transport.topics import Topics


@dataclass
class GroupStatus:
    group: str
    topic: str
    lag: dict[int, int]  # partition -> records not yet committed
    committed: dict[int, int]
    workers: list[dict[str, Any]] = field(default_factory=list)

    @property
    def total_lag(self) -> int:
        return sum(self.lag.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "group": self.group,
            "topic": self.topic,
            "total_lag": self.total_lag,
            "lag": {str(p): n for p, n in sorted(self.lag.items())},
            "committed": {str(p): n for p, n in sorted(self.committed.items())},
            "workers": self.workers,
        }


def our_groups(settings: Settings) -> list[tuple[str, str]]:
    """(consumer group, input topic) of every consumer group Stream-Sentinel runs (the
    learner's group also reads fraud-feedback; its feature-log topic is the one shown)."""
    topics = Topics.from_settings(settings)
    return [
        (settings.detector.group_id, topics.transactions),
        (settings.detector.feedback_group_id, topics.fraud_feedback),
        (settings.alerts.group_id, topics.fraud_alerts),
        (FEEDBACK_STORE_GROUP, topics.fraud_feedback),
        (settings.learning.group_id, topics.decision_features),
        (drift_group(settings.drift, topics), topics.decision_features),
    ]


def group_status(admin: Admin, store: StateStore, group: str, topic: str) -> GroupStatus:
    partitions = admin.describe_topics([topic]).get(topic)
    count = partitions.partitions if partitions else 0
    tps = [TopicPartition(topic, p) for p in range(count)]
    ends = admin.end_offsets(tps) if tps else {}
    committed = {
        tp.partition: o for tp, o in admin.group_offsets(group).items() if tp.topic == topic
    }
    lag = {tp.partition: max(ends[tp] - committed.get(tp.partition, 0), 0) for tp in tps}
    return GroupStatus(group, topic, lag, committed, _heartbeats(store, group))


def _heartbeats(store: StateStore, group: str) -> list[dict[str, Any]]:
    names = sorted(store.scan(keys.PIPELINE, keys.worker_status(group, "*")))
    batch = Batch()
    for name in names:
        batch.get(keys.PIPELINE, name)
    workers = []
    for name, blob in zip(names, store.execute(batch) if names else [], strict=True):
        if blob:
            beat = json.loads(blob)
            beat.setdefault("worker", name.rsplit(":", 1)[-1])
            workers.append(beat)
    return workers


def dead_letter_counts(store: StateStore) -> dict[str, int]:
    """Dead letters by error type, as the consumers counted them (exactly once each)."""
    [counts] = store.execute(Batch().hgetall(keys.PIPELINE, keys.DEAD_LETTER_COUNTS))
    return {reason: int(n) for reason, n in sorted(counts.items())}
