"""What the detector decided for each row of a history, and the scores file written from it."""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from stream_sentinel.backtest.history import History
from stream_sentinel.detector.outputs import DECISION_NAMES, LEVEL_NAMES
from stream_sentinel.detector.scorer import Scored
from stream_sentinel.errors import UsageError

SCORE_COLUMNS = (
    "transaction_id",
    "event_time",
    "user_id",
    "score",
    "risk_level",
    "decision",
    "reasons",
    "model_version",
    "label",
    "period",
)
#: The decision column of a row the detector rejected (sent to dead-letter) instead of scoring.
DEAD_LETTER = "DEAD_LETTER"


class Outcomes:
    """Per row: score, risk level, decision, alert flag, reasons and model, or the rejection."""

    def __init__(self, rows: int) -> None:
        self.score = np.full(rows, np.nan)
        self.level = np.full(rows, -1, dtype=np.int8)
        self.decision = np.full(rows, -1, dtype=np.int8)
        self.alert = np.zeros(rows, dtype=bool)
        self.model = np.full(rows, -1, dtype=np.int32)
        self.reasons: list[str] = [""] * rows
        self.rejected: dict[int, str] = {}
        self.versions: list[str] = []

    @property
    def scored(self) -> np.ndarray:
        return self.level >= 0

    def record(self, rows: np.ndarray, scored: Scored) -> None:
        """The detector's outcome for ``rows`` (aligned with the batch's valid transactions)."""
        outcome = scored.outcome
        self.score[rows] = outcome.scores
        self.level[rows] = outcome.levels
        self.decision[rows] = outcome.decisions
        self.alert[rows] = outcome.alerts
        self.model[rows] = self._model_index(scored.model_version)
        for row, reasons in zip(rows.tolist(), scored.reasons(), strict=True):
            if reasons:
                self.reasons[row] = ";".join(reasons)

    def reject(self, row: int, error_type: str) -> None:
        self.rejected[row] = error_type
        self.reasons[row] = error_type

    def rejections(self) -> dict[str, int]:
        return dict(sorted(Counter(self.rejected.values()).items()))

    def _model_index(self, version: str | None) -> int:
        if version is None:
            return -1
        if version not in self.versions:
            self.versions.append(version)
        return self.versions.index(version)


def write_scores(
    path: Path, history: History, outcomes: Outcomes, evaluation_start_ms: int
) -> None:
    """One row per transaction, in event-time order (see SCORE_COLUMNS and docs/backtest.md)."""
    scored = outcomes.scored
    times = np.datetime_as_string(history.timestamp.astype("datetime64[ms]"), unit="ms")
    score = [repr(s) if ok else "" for s, ok in zip(outcomes.score.tolist(), scored, strict=True)]
    level = _names(outcomes.level, LEVEL_NAMES, "")
    decision = _names(outcomes.decision, DECISION_NAMES, DEAD_LETTER)
    versions = [*outcomes.versions, ""]
    model = [versions[i] for i in outcomes.model.tolist()]  # -1 picks the trailing ""
    period = np.where(history.timestamp >= evaluation_start_ms, "evaluation", "warmup")
    try:
        handle = path.open("w", newline="", encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write --output {path}: {exc.strerror}") from None
    with handle:
        writer = csv.writer(handle)
        writer.writerow(SCORE_COLUMNS)
        writer.writerows(
            zip(
                history.transaction_id,
                (t + "Z" for t in times),
                history.user_id,
                score,
                level,
                decision,
                outcomes.reasons,
                model,
                history.labels.tolist(),
                period.tolist(),
                strict=True,
            )
        )


def _names(codes: np.ndarray, names: Sequence[str], missing: str) -> list[str]:
    table = [*names, missing]
    return [table[c] for c in codes.tolist()]  # -1 picks ``missing``
