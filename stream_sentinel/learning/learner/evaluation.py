"""A model's scorecard on the validation part: what the learner reports and the policy reads.

Pure: scores, labels and bands in, plain values out. ROC AUC and average precision over the
validation rows; Card Precision@100 per whole UTC day of the validation window (of the 100
highest-scored cards of each day, the share with a fraud that day; partial days at its ends
are left out; :func:`~stream_sentinel.logic.evaluation.card_precision_at_k`);
and, at each band's threshold, the share of validation traffic it alerts on, its precision and
its recall. Rows stand for as many transactions as their weight (:meth:`Part.expanded`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import numpy as np

from stream_sentinel.domain import RiskLevel
from stream_sentinel.learning.learner.trainingset import Part
from stream_sentinel.logic.decisions import Bands
from stream_sentinel.logic.evaluation import average_precision, card_precision_at_k, roc_auc

DAY_MS = 86_400_000
CARDS_PER_DAY = 100


def scorecard(
    scores: np.ndarray,
    part: Part,
    bands: Bands,
    alert_level: RiskLevel,
    span: tuple[int, int] | None = None,
) -> dict[str, Any]:
    """The metrics of ``scores`` (one per row of the expanded ``part``) at ``bands``; Card
    Precision@100 over the whole UTC days inside ``span`` (the validation window) only."""
    labels = part.labels.astype(bool)
    days = part.event_time // DAY_MS
    whole = _whole_days(days, span)
    mean_cp, daily = card_precision_at_k(
        days[whole], np.array(part.users)[whole], scores[whole], labels[whole], CARDS_PER_DAY
    )
    at_bands = {
        level.name: _at_threshold(scores, labels, threshold)
        for level, threshold in sorted(bands.thresholds.items())
    }
    alerting = bands.thresholds.get(alert_level)
    return {
        "roc_auc": roc_auc(labels, scores),
        "average_precision": average_precision(labels, scores),
        "card_precision_at_100": mean_cp,
        "card_precision_at_100_daily": {_day(day): round(p, 6) for day, p in daily},
        "card_precision_at_100_days": "whole UTC days of the validation window (partial days "
        "left out)",
        "alert_rate": _at_threshold(scores, labels, alerting)["alert_rate"]
        if alerting is not None
        else 0.0,
        "validation_rows": len(labels),
        "validation_frauds": int(labels.sum()),
        "bands": at_bands,
    }


def alert_rates(card: Mapping[str, Any]) -> dict[str, float]:
    """Each band's alert rate from a scorecard (or a registered version's metrics)."""
    return {band: float(row["alert_rate"]) for band, row in card.get("bands", {}).items()}


def _at_threshold(scores: np.ndarray, labels: np.ndarray, threshold: float) -> dict[str, float]:
    flagged = scores >= threshold
    hits = int((flagged & labels).sum())
    return {
        "threshold": float(threshold),
        "alert_rate": float(flagged.mean()) if len(scores) else 0.0,
        "precision": hits / max(int(flagged.sum()), 1),
        "recall": hits / max(int(labels.sum()), 1),
    }


def _whole_days(days: np.ndarray, span: tuple[int, int] | None) -> np.ndarray:
    """Rows on UTC days wholly inside ``span`` (all rows without one): a partial day's
    Card Precision@100 ranks fewer cards and would not compare with a whole one's."""
    if span is None:
        return np.ones(len(days), dtype=bool)
    first, end = -(-span[0] // DAY_MS), span[1] // DAY_MS
    return np.asarray((days >= first) & (days < end), dtype=bool)


def _day(epoch_day: int) -> str:
    return dt.datetime.fromtimestamp(epoch_day * 86_400, dt.UTC).strftime("%Y-%m-%d")
