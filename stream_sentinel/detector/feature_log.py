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
from stream_sentinel.logic.feature_set import LIVE, LIVE_HASH
from stream_sentinel.stream.handler import Output
from stream_sentinel.transport.base import Record
from stream_sentinel.transport.topics import DECISION_FEATURES, Topics
from stream_sentinel.wire.featurewire import DecisionFeaturesWriter
from stream_sentinel.wire.serde import Serde


class FeatureLog:
    """Encodes one batch's feature-log rows (the fast writer, or the generic encoder when
    ``decision-features`` is configured as a JSON topic)."""

    def __init__(self, serde: Serde, topics: Topics) -> None:
        self.topic = topics.decision_features
        self._encode = serde.encoder(DECISION_FEATURES)
        self._in_avro = DECISION_FEATURES not in serde.json_topics
        self._writer: DecisionFeaturesWriter | None = None

    def rows(
        self,
        records: Sequence[Record],
        intake: Intake,
        features: np.ndarray,
        scored: Scored,
        decided: int,
    ) -> list[Output]:
        """A row per valid transaction (row i is ``records[intake.good[i]]``, its vector
        ``features[i]``)."""
        if self._in_avro:
            return self._fast_rows(records, intake, features, scored, decided)
        return [
            (self.topic, intake.user_id[row].encode(), self._encode(record))
            for row, record in enumerate(feature_rows(records, intake, features, scored, decided))
        ]

    def _fast_rows(
        self,
        records: Sequence[Record],
        intake: Intake,
        features: np.ndarray,
        scored: Scored,
        decided: int,
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
        for row, position in enumerate(intake.good):
            record = records[position]
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
) -> list[dict[str, object]]:
    """The batch's rows as DecisionFeatures dicts (the generic path; tests compare the fast
    writer's bytes with these encoded by the generic encoder)."""
    outcome = scored.outcome
    vectors = features.tolist()
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
            "input_partition": records[position].partition() or 0,
            "input_offset": records[position].offset() or 0,
        }
        for row, position in enumerate(intake.good)
    ]
