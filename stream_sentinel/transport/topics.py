"""The project's topic layout (DESIGN section 3) and the prefixed names of one deployment."""

from __future__ import annotations

from dataclasses import dataclass

from stream_sentinel.config import Settings
from stream_sentinel.transport.base import TopicSpec

RETENTION_7D_MS = str(168 * 3600 * 1000)
# Kafka deletes whole segments: with its default 7-day segments a quiet topic could keep a record
# for ~14 days. One-day segments bound a record's life to 8 days, which consumers rely on (the
# alert processor's idempotence markers outlive it).
SEGMENT_1D_MS = str(24 * 3600 * 1000)
_DATA = {"compression.type": "lz4", "retention.ms": RETENTION_7D_MS, "segment.ms": SEGMENT_1D_MS}
_COMPACTED = {"compression.type": "lz4", "cleanup.policy": "compact"}
# The feature log is what late labels are joined to for training: chargebacks arrive up to 90
# days after the payment and some later (the feedback store's delay histogram has a bucket past
# 90 days), so a row must still be there when its label comes and the learner joins it: 30 days
# of margin past 90. One-day segments: a row lives 120 to 121 days.
RETENTION_120D_MS = str(120 * 24 * 3600 * 1000)
_FEATURE_LOG = {**_DATA, "retention.ms": RETENTION_120D_MS}

TRANSACTIONS = "transactions"
FRAUD_SCORES = "fraud-scores"
FRAUD_ALERTS = "fraud-alerts"
USER_ACTIONS = "user-actions"
FRAUD_FEEDBACK = "fraud-feedback"
MODEL_EVENTS = "model-events"
DEAD_LETTER = "dead-letter"
DECISION_FEATURES = "decision-features"
DRIFT_EVENTS = "drift-events"
SCHEMAS = "_schemas"

#: Logical name -> (partitions, topic configs). Created idempotently, never by auto-create.
LAYOUT: dict[str, tuple[int, dict[str, str]]] = {
    TRANSACTIONS: (12, _DATA),
    FRAUD_SCORES: (12, _DATA),
    FRAUD_ALERTS: (6, _DATA),
    USER_ACTIONS: (3, _DATA),
    FRAUD_FEEDBACK: (6, _DATA),
    MODEL_EVENTS: (1, _COMPACTED),
    DEAD_LETTER: (3, _DATA),
    DECISION_FEATURES: (12, _FEATURE_LOG),
    DRIFT_EVENTS: (3, _DATA),
    SCHEMAS: (1, _COMPACTED),
}


#: More copies than three buy a local or small cluster nothing but disk and network.
MAX_REPLICATION = 3


def replication_for(brokers: int) -> int:
    """The replication factor of the project's topics on a cluster of ``brokers`` nodes."""
    return max(1, min(MAX_REPLICATION, brokers))


def min_insync_for(replication: int) -> int:
    """``min.insync.replicas``: every copy but one must have a write (2 of 3), so one broker
    can be lost without refusing an acks=all producer or losing an acknowledged record."""
    return max(1, replication - 1)


@dataclass(frozen=True, slots=True)
class Topics:
    """Real topic names for one deployment (the configured prefix applied)."""

    prefix: str = ""

    @classmethod
    def from_settings(cls, settings: Settings) -> Topics:
        return cls(settings.kafka.topic_prefix)

    def name(self, logical: str) -> str:
        return self.prefix + logical

    @property
    def transactions(self) -> str:
        return self.name(TRANSACTIONS)

    @property
    def fraud_scores(self) -> str:
        return self.name(FRAUD_SCORES)

    @property
    def fraud_alerts(self) -> str:
        return self.name(FRAUD_ALERTS)

    @property
    def user_actions(self) -> str:
        return self.name(USER_ACTIONS)

    @property
    def fraud_feedback(self) -> str:
        return self.name(FRAUD_FEEDBACK)

    @property
    def model_events(self) -> str:
        return self.name(MODEL_EVENTS)

    @property
    def dead_letter(self) -> str:
        return self.name(DEAD_LETTER)

    @property
    def decision_features(self) -> str:
        return self.name(DECISION_FEATURES)

    @property
    def drift_events(self) -> str:
        return self.name(DRIFT_EVENTS)

    @property
    def schemas(self) -> str:
        return self.name(SCHEMAS)

    def specs(self, replication: int | None = None) -> list[TopicSpec]:
        """Every topic of the layout, prefixed, ready for ``Admin.create_topics``.

        ``replication`` (see :func:`replication_for`) sets each topic's replication factor and,
        above one copy, its ``min.insync.replicas``; None leaves both to the broker's defaults.
        """
        extra = {}
        if replication is not None and replication > 1:
            extra = {"min.insync.replicas": str(min_insync_for(replication))}
        return [
            TopicSpec(self.name(logical), partitions, {**config, **extra}, replication)
            for logical, (partitions, config) in LAYOUT.items()
        ]
