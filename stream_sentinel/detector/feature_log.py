"""The feature log: a DecisionFeatures row on ``decision-features`` for every decision.

Each row holds the exact vector the rules and the model scored (the batch's feature matrix, in
the live feature set's order), the model version, the score and the decision. The rows are
outputs of the batch like its FraudScores, so the loop publishes them in the same Kafka
transaction (exactly-once): a decision visible to a read_committed reader has its row, and a
batch that is aborted and handled again carries the rows of the new attempt only. A repair
(``emit=False``) produces no outputs, so no rows. Training joins labels to these rows, never to
features recomputed from a later state, so training and serving cannot skew.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from stream_sentinel.detector import outputs
from stream_sentinel.detector.intake import Intake
from stream_sentinel.detector.scorer import Scored
from stream_sentinel.errors import ConfigError
from stream_sentinel.logic.feature_set import LIVE, LIVE_HASH
from stream_sentinel.stream.handler import Output
from stream_sentinel.transport.base import Broker, Record
from stream_sentinel.transport.topics import DECISION_FEATURES, Topics
from stream_sentinel.wire.featurewire import DecisionFeaturesWriter
from stream_sentinel.wire.serde import Serde


def require_topic(broker: Broker, topic: str) -> None:
    """Refuse to start without the feature log's topic: with auto-create off, every batch
    would fail to publish and be retried for ever, and no payment would be decided."""
    admin = broker.admin()
    try:
        found = topic in admin.describe_topics([topic])
    finally:
        admin.close()
    if not found:
        raise ConfigError(
            f"topic {topic} does not exist, so the detector cannot log its decisions' features: "
            "run `stream-sentinel topics create` (it adds the missing topics and changes none), "
            "or set SENTINEL_DETECTOR_FEATURE_LOG=false to decide without the feature log"
        )


#: The experiment fields of a row decided outside any experiment (the fast writer writes their
#: schema defaults, which are these).
NO_EXPERIMENT: dict[str, object] = {
    "experiment_id": None,
    "arm": None,
    "shadow_model_version": None,
    "shadow_score": None,
    "shadow_risk_level": None,
}


class FeatureLog:
    """Encodes one batch's feature-log rows (Avro only: JSON cannot carry the NaNs)."""

    def __init__(self, serde: Serde, topics: Topics) -> None:
        self.topic = topics.decision_features
        self._encode = serde.encoder(DECISION_FEATURES)
        if DECISION_FEATURES in serde.json_topics:
            raise ConfigError(
                f"{DECISION_FEATURES} cannot be a JSON topic: its vectors hold NaN for missing "
                "values, which JSON cannot carry; remove it from SENTINEL_KAFKA_JSON_TOPICS"
            )
        self._writer: DecisionFeaturesWriter | None = None

    def rows(
        self,
        records: Sequence[Record],
        intake: Intake,
        features: np.ndarray,
        scored: Scored,
        decided: int,
        applied: np.ndarray | None = None,
    ) -> list[Output]:
        """A row per valid transaction (row i is ``records[intake.good[i]]``, its vector
        ``features[i]``), except those whose ``applied`` is False: their state was applied by
        an earlier decision (the group's offsets were rewound behind Redis), so their vectors
        come from a later state; the row logged by that first decision stands."""
        rows = (
            list(range(len(intake.good))) if applied is None else np.flatnonzero(applied).tolist()
        )
        return self._fast_rows(records, intake, features, scored, decided, rows)

    def _fast_rows(
        self,
        records: Sequence[Record],
        intake: Intake,
        features: np.ndarray,
        scored: Scored,
        decided: int,
        rows: list[int],
    ) -> list[Output]:
        writer = self._fast_writer()
        write, topic, outcome = writer.write, self.topic, scored.outcome
        decided_wire = writer.encoded("decided_time", decided)
        model_wire = writer.encoded("model_version", scored.model_version)
        set_wire = writer.encoded("feature_set", LIVE)
        hash_wire = writer.encoded("feature_set_hash", LIVE_HASH)
        vectors = writer.vectors(features)
        scores, levels = outcome.scores.tolist(), outcome.levels.tolist()
        decisions, stamps = outcome.decisions.tolist(), intake.timestamp.tolist()
        ids, users = intake.transaction_id, intake.user_id
        out: list[Output] = []
        good = intake.good
        for row in rows:
            record = records[good[row]]
            user = users[row]
            value = write(
                ids[row],
                user,
                stamps[row],
                decided_wire,
                model_wire,
                set_wire,
                hash_wire,
                vectors[row],
                scores[row],
                levels[row],
                decisions[row],
                record.partition() or 0,
                record.offset() or 0,
            )
            out.append((topic, user.encode(), value))
        return out

    def _fast_writer(self) -> DecisionFeaturesWriter:
        if self._writer is None:
            self._writer = DecisionFeaturesWriter(self._encode.schema_id)  # type: ignore[attr-defined]
        return self._writer


def feature_rows(
    records: Sequence[Record],
    intake: Intake,
    features: np.ndarray,
    scored: Scored,
    decided: int,
    rows: list[int] | None = None,
) -> list[dict[str, object]]:
    """The rows (default: all) as DecisionFeatures dicts (the generic path; a unit test holds
    the fast writer's bytes equal to these encoded by the generic encoder)."""
    outcome = scored.outcome
    vectors = features.tolist()
    good = intake.good
    wanted = range(len(good)) if rows is None else rows
    return [
        {
            "transaction_id": intake.transaction_id[row],
            "user_id": intake.user_id[row],
            "event_time": int(intake.timestamp[row]),
            "decided_time": decided,
            "model_version": scored.model_version,
            "feature_set": LIVE,
            "feature_set_hash": LIVE_HASH,
            "features": vectors[row],
            "score": float(outcome.scores[row]),
            "risk_level": outputs.LEVEL_NAMES[outcome.levels[row]],
            "decision": outputs.DECISION_NAMES[outcome.decisions[row]],
            "input_partition": records[good[row]].partition() or 0,
            "input_offset": records[good[row]].offset() or 0,
            **NO_EXPERIMENT,
        }
        for row in wanted
    ]
