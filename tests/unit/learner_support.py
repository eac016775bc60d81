"""Synthetic logged decisions and labels for the learner's tests (deterministic, seeded)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from stream_sentinel.clients.backends import Backends, embedded_backends
from stream_sentinel.clock import ManualClock
from stream_sentinel.config.learning import LearningSettings
from stream_sentinel.domain import RiskLevel
from stream_sentinel.learning.learner.consumers import learner_loops
from stream_sentinel.learning.learner.retrain import Retrainer
from stream_sentinel.learning.learner.service import Learner
from stream_sentinel.learning.learner.store import TrainingSetStore
from stream_sentinel.learning.model_events import Announcer
from stream_sentinel.learning.registry import ModelRegistry
from stream_sentinel.logic.feature_set import LIVE, LIVE_HASH
from stream_sentinel.logic.features import FEATURES
from stream_sentinel.registry_server.local_client import LocalRegistryClient
from stream_sentinel.transport.topics import Topics
from stream_sentinel.wire.serde import Serde

T0 = 1_700_006_400_000  # 2023-11-15 00:00:00 UTC
HOUR = 3_600_000
DAY = 24 * HOUR
#: Band rates sized for these small windows (a 0.1% band over 750 pending rows is one row).
BANDS = {
    RiskLevel.CRITICAL: 0.01,
    RiskLevel.HIGH: 0.02,
    RiskLevel.MEDIUM: 0.05,
    RiskLevel.LOW: 0.20,
}
SETTINGS = LearningSettings(
    label_delay_ms=DAY,
    window_ms=28 * DAY,
    validation_ms=2 * DAY,
    retrain_every_ms=30 * DAY,  # no scheduled retrain unless a test asks for one
    min_train_rows=100,
    min_train_frauds=5,
)


def feature_row(
    tx: str, user: str, event_time: int, fraud: bool, rng: random.Random
) -> dict[str, Any]:
    """A DecisionFeatures record; frauds have large first features (a learnable signal)."""
    vector = [rng.gauss(3.0 if fraud else 0.0, 1.0) for _ in range(3)]
    # noise for the other features: 26 draws from the seed's stream (as many as there were
    # features to fill before the 30-day windows), so a seed keeps its frauds; the rest from
    # their own stream
    vector += [rng.random() for _ in range(26)]
    extra = random.Random(f"{tx}-extra")
    vector += [extra.random() for _ in range(len(FEATURES) - len(vector))]
    return {
        "transaction_id": tx,
        "user_id": user,
        "event_time": event_time,
        "decided_time": event_time + 5,
        "model_version": None,
        "feature_set": LIVE,
        "feature_set_hash": LIVE_HASH,
        "features": vector,
        "score": 0.0,
        "risk_level": "MINIMAL",
        "decision": "APPROVE",
        "input_partition": 0,
        "input_offset": 0,
    }


def feedback(
    tx: str, user: str, event_time: int, value: str, source: str, after_ms: int
) -> dict[str, Any]:
    return {
        "transaction_id": tx,
        "user_id": user,
        "merchant_id": "m1",
        "event_time": event_time,
        "label": value,
        "source": source,
        "confidence": 1.0,
        "pattern": None,
        "label_time": event_time + after_ms,
    }


@dataclass
class Traffic:
    rows: list[dict[str, Any]] = field(default_factory=list)
    labels: list[dict[str, Any]] = field(default_factory=list)
    frauds: set[str] = field(default_factory=set)


def traffic(count: int, days: int, seed: int, fraud_share: float = 0.05) -> Traffic:
    """``count`` decisions spread over ``days`` from T0; each fraud gets a CHARGEBACK label
    12 h later, and one in ten legitimate ones an ANALYST LEGIT label 2 h later."""
    rng = random.Random(seed)
    out = Traffic()
    for n in range(count):
        tx, user = f"tx-{seed}-{n:06d}", f"u{rng.randrange(300):04d}"
        when = T0 + int(days * DAY * n / count)
        fraud = rng.random() < fraud_share
        out.rows.append(feature_row(tx, user, when, fraud, rng))
        if fraud:
            out.frauds.add(tx)
            out.labels.append(feedback(tx, user, when, "FRAUD", "CHARGEBACK", 12 * HOUR))
        elif n % 10 == 0:
            out.labels.append(feedback(tx, user, when, "LEGIT", "ANALYST", 2 * HOUR))
    return out


@dataclass
class Rig:
    """The embedded backends, a serde and the topics: one 'stack' that survives restarts of the
    learner built on it."""

    backends: Backends = field(default_factory=embedded_backends)
    serde: Serde = field(default_factory=lambda: Serde(LocalRegistryClient.in_memory()))
    topics: Topics = field(default_factory=Topics)
    clock: ManualClock = field(default_factory=lambda: ManualClock(T0 + 40 * DAY))

    def __post_init__(self) -> None:
        self.backends.broker.admin().create_topics(self.topics.specs())
        self.registry = ModelRegistry(
            self.backends.state,
            self.clock,
            announce=Announcer(self.backends.broker, self.serde, self.topics),
        )

    def send(self, rows: list[dict[str, Any]], labels: list[dict[str, Any]]) -> None:
        producer = self.backends.broker.producer()
        rows_of, labels_of = (
            self.serde.encoder("decision-features"),
            self.serde.encoder("fraud-feedback"),
        )
        for row in rows:
            producer.produce(self.topics.decision_features, rows_of(row), row["user_id"].encode())
        for label in labels:
            producer.produce(
                self.topics.fraud_feedback, labels_of(label), label["user_id"].encode()
            )
        producer.flush(5)

    def learner(self, settings: LearningSettings = SETTINGS) -> Learner:
        state = self.backends.state
        retrainer = Retrainer(
            TrainingSetStore(state), self.registry, settings, BANDS, RiskLevel.MEDIUM
        )
        loops = learner_loops(
            self.backends.broker,
            state,
            self.serde,
            self.topics,
            settings.group_id,
            settings.window_ms,
            poll_timeout_s=0.01,
        )
        return Learner(loops, state, retrainer, settings, waits=ManualClock(), grace_s=1.0)
