"""The detector's output records, encoded: a FraudScore per decided transaction, a FraudAlert per
risky one, a feature-log row per decision (:mod:`.feature_log`), a dead letter per rejected
record (the dicts: :mod:`.outputs`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from stream_sentinel.config import Settings
from stream_sentinel.detector import outputs
from stream_sentinel.detector.feature_log import FeatureLog
from stream_sentinel.detector.intake import Intake
from stream_sentinel.detector.scorer import Scored
from stream_sentinel.detector.validation import Rejection
from stream_sentinel.stream.deadletters import LetterBudget, build_letter
from stream_sentinel.stream.handler import Output
from stream_sentinel.transport.base import Record
from stream_sentinel.transport.topics import DEAD_LETTER, FRAUD_ALERTS, FRAUD_SCORES, Topics
from stream_sentinel.wire.scorewire import FraudScoreWriter
from stream_sentinel.wire.serde import Serde

COMPONENT = "detector"


class OutputWriter:
    """Encodes what one batch decided into the records the loop publishes."""

    def __init__(self, settings: Settings, serde: Serde, topics: Topics) -> None:
        self.settings = settings
        self.topics = topics
        self._encode_score = serde.encoder(FRAUD_SCORES)
        self._encode_alert = serde.encoder(FRAUD_ALERTS)
        self._encode_dead = serde.encoder(DEAD_LETTER)
        self._writer: FraudScoreWriter | None = None
        self._scores_in_avro = FRAUD_SCORES not in serde.json_topics
        self._feature_log = FeatureLog(serde, topics) if settings.detector.feature_log else None

    def scores_and_alerts(
        self, records: Sequence[Record], intake: Intake, scored: Scored, decided: int
    ) -> list[Output]:
        """A FraudScore per valid transaction (row i is ``records[intake.good[i]]``), each
        followed by its FraudAlert when the decision raised one. A split batch is written arm
        by arm (each record naming its arm and the model that decided it); a user's records
        keep their order, since a user is in one arm."""
        out: list[Output] = []
        good = intake.good
        for decider in outputs.deciders(scored):
            rows = enumerate(good) if decider.rows is None else ((r, good[r]) for r in decider.rows)
            out += self._scores(records, intake, scored, decided, decider, rows)
        return out

    def _scores(
        self,
        records: Sequence[Record],
        intake: Intake,
        scored: Scored,
        decided: int,
        decider: outputs.Decider,
        rows: Iterable[tuple[int, int]],
    ) -> list[Output]:
        """The records of ``rows`` (row, position in ``records``), all decided by ``decider``."""
        topics, outcome, contributions = self.topics, scored.outcome, scored.contributions
        writer = self._score_writer()
        decided_wire, model_wire, experiment_wire, arm_wire = _constants(writer, decider, decided)
        scores, levels = outcome.scores.tolist(), outcome.levels.tolist()
        decisions, alerts = outcome.decisions.tolist(), outcome.alerts.tolist()
        amounts, stamps = intake.amount.tolist(), intake.timestamp.tolist()
        reasons = scored.reasons()
        out: list[Output] = []
        for row, position in rows:
            produced = records[position].timestamp()[1]
            user = intake.user_id[row]
            key = user.encode()
            if writer is not None:
                value = writer.write(
                    intake.transaction_id[row],
                    user,
                    intake.merchant_id[row],
                    amounts[row],
                    stamps[row],
                    scores[row],
                    levels[row],
                    decisions[row],
                    produced,
                    decided_wire,
                    model_wire,
                    reasons[row],
                    contributions.get(row, ()),
                    experiment_wire,
                    arm_wire,
                )
            else:
                score = outputs.fraud_score(
                    intake.row(row), scored, row, reasons[row], produced, decided
                )
                value = self._encode_score(score)
            out.append((topics.fraud_scores, key, value))
            if alerts[row]:
                alert = self._alert(intake.row(row), scored, row, reasons[row], produced, decided)
                out.append((topics.fraud_alerts, key, alert))
        return out

    def _alert(
        self,
        tx: Mapping[str, Any],
        scored: Scored,
        row: int,
        reasons: Sequence[str],
        produced: int,
        decided: int,
    ) -> bytes:
        """The FraudAlert of a row whose decision raised one, encoded."""
        score = outputs.fraud_score(tx, scored, row, reasons, produced, decided)
        return self._encode_alert(outputs.fraud_alert(score, self.settings.alerts, decided))

    def decision_features(
        self,
        records: Sequence[Record],
        intake: Intake,
        features: np.ndarray,
        scored: Scored,
        decided: int,
        applied: np.ndarray | None = None,
    ) -> list[Output]:
        """The feature-log row of each decision (none when the feature log is off, and none for
        a row whose ``applied`` is False: see :meth:`FeatureLog.rows`)."""
        if self._feature_log is None:
            return []
        return self._feature_log.rows(records, intake, features, scored, decided, applied)

    def dead_letters(
        self,
        records: Sequence[Record],
        rejected: Sequence[tuple[int, Rejection]],
        decided: int,
        budget: LetterBudget,
    ) -> list[Output]:
        """A dead letter per rejected record (by its position in ``records``)."""
        out: list[Output] = []
        for position, rejection in rejected:
            key, letter = build_letter(
                records[position],
                rejection.error_type,
                rejection.reason,
                decided,
                COMPONENT,
                budget,
                self.topics.transactions,
            )
            out.append((self.topics.dead_letter, key, self._encode_dead(letter)))
        return out

    def _score_writer(self) -> FraudScoreWriter | None:
        """The fast Avro writer, or None when fraud-scores is configured as a JSON topic."""
        if self._writer is None and self._scores_in_avro:
            self._writer = FraudScoreWriter(self._encode_score.schema_id)  # type: ignore[attr-defined]
        return self._writer


def _constants(
    writer: FraudScoreWriter | None, decider: outputs.Decider, decided: int
) -> tuple[bytes, bytes, bytes, bytes]:
    """The FraudScore fields the rows of one decider share, encoded once: decided_time,
    model_version, experiment_id, arm (nothing without the fast writer)."""
    if writer is None:
        return b"", b"", b"", b""
    return (
        writer.encoded("decided_time", decided),
        writer.encoded("model_version", decider.model_version),
        writer.encoded("experiment_id", decider.experiment_id),
        writer.encoded("arm", decider.arm),
    )
