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
from typing import NamedTuple

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


class _Encoded(NamedTuple):
    """A batch's per-row fields encoded in bulk, once for all its deciders."""

    vectors: list[bytes]
    shadow_scores: list[bytes]
    shadow_levels: list[bytes]


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
        writer = self._fast_writer()
        encoded = _Encoded(writer.vectors(features), *_beside(writer, len(features), scored))
        out: list[Output] = []
        for decider in outputs.deciders(scored):
            wanted = rows if decider.rows is None else sorted(set(rows) & set(decider.rows))
            out += self._fast_rows(records, intake, scored, decided, wanted, decider, encoded)
        return out

    def _fast_rows(
        self,
        records: Sequence[Record],
        intake: Intake,
        scored: Scored,
        decided: int,
        rows: list[int],
        decider: outputs.Decider,
        encoded: _Encoded,
    ) -> list[Output]:
        """The rows of ``rows``, all decided by ``decider``."""
        writer = self._fast_writer()
        write, topic, outcome = writer.write, self.topic, scored.outcome
        constant = _constant_fields(writer, decider, decided)
        experiment = _experiment_wire(writer, decider)
        vectors, shadow_scores, shadow_levels = encoded
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
                *constant,
                vectors[row],
                scores[row],
                levels[row],
                decisions[row],
                record.partition() or 0,
                record.offset() or 0,
                *experiment,
                shadow_scores[row],
                shadow_levels[row],
            )
            out.append((topic, user.encode(), value))
        return out

    def _fast_writer(self) -> DecisionFeaturesWriter:
        if self._writer is None:
            self._writer = DecisionFeaturesWriter(self._encode.schema_id)  # type: ignore[attr-defined]
        return self._writer


def _constant_fields(
    writer: DecisionFeaturesWriter, decider: outputs.Decider, decided: int
) -> tuple[bytes, bytes, bytes, bytes]:
    """decided_time, model_version, feature_set, feature_set_hash: the same for a decider."""
    return (
        writer.encoded("decided_time", decided),
        writer.encoded("model_version", decider.model_version),
        writer.encoded("feature_set", LIVE),
        writer.encoded("feature_set_hash", LIVE_HASH),
    )


def _experiment_wire(
    writer: DecisionFeaturesWriter, decider: outputs.Decider
) -> tuple[bytes, bytes, bytes]:
    """experiment_id, arm, shadow_model_version: the same for a decider."""
    return (
        writer.encoded("experiment_id", decider.experiment_id),
        writer.encoded("arm", decider.arm),
        writer.encoded("shadow_model_version", decider.shadow_model_version),
    )


def _beside(
    writer: DecisionFeaturesWriter, count: int, scored: Scored
) -> tuple[list[bytes], list[bytes]]:
    """Each row's shadow_score and shadow_risk_level, encoded for the whole batch."""
    found = outputs.beside(scored)
    return writer.shadow(count, *(found if found is not None else (None, None)))


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
    beside = outputs.beside(scored)
    return [
        {
            "transaction_id": intake.transaction_id[row],
            "user_id": intake.user_id[row],
            "event_time": int(intake.timestamp[row]),
            "decided_time": decided,
            "model_version": outputs.deciding_version(scored, row),
            "feature_set": LIVE,
            "feature_set_hash": LIVE_HASH,
            "features": vectors[row],
            "score": float(outcome.scores[row]),
            "risk_level": outputs.LEVEL_NAMES[outcome.levels[row]],
            "decision": outputs.DECISION_NAMES[outcome.decisions[row]],
            "input_partition": records[good[row]].partition() or 0,
            "input_offset": records[good[row]].offset() or 0,
            **outputs.experiment_fields(scored, row),
            "shadow_model_version": _beside_version(scored, row),
            "shadow_score": float(beside[0][row]) if beside is not None else None,
            "shadow_risk_level": (
                outputs.LEVEL_NAMES[beside[1][row]] if beside is not None else None
            ),
        }
        for row in wanted
    ]


def _beside_version(scored: Scored, row: int) -> str | None:
    """The version of the model that scored ``row`` beside the deciding one."""
    split, shadow = scored.split, scored.shadow
    if split is not None:
        return split.versions[1 - int(split.arms[row])]
    return shadow.version if shadow is not None else None
