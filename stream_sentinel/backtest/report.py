"""The backtest's report: detection quality over the evaluation period, and its own speed.

Metrics cover the transactions of the evaluation period that the detector scored (rows it
rejected to dead-letter have no score and are counted apart). ROC AUC and average precision
rank by score; precision, recall and F1 judge the alert flag; Card Precision@k ranks cards
(users) per day by their highest score (see
:func:`stream_sentinel.logic.evaluation.card_precision_at_k`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from stream_sentinel.backtest.history import History
from stream_sentinel.backtest.outcomes import Outcomes
from stream_sentinel.errors import UsageError
from stream_sentinel.logic.evaluation import (
    average_precision,
    card_precision_at_k,
    precision_recall_f1,
    roc_auc,
)
from stream_sentinel.logic.profile import DAY_MS

BAD_ROW_EXAMPLES = 10


def iso(ms: int) -> str:
    """``2024-12-06T06:36:22Z`` (UTC, whole seconds)."""
    moment = datetime.fromtimestamp(ms / 1000, UTC)
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def evaluation_metrics(
    history: History, outcomes: Outcomes, evaluation_start_ms: int, k: int
) -> dict[str, Any]:
    """Quality over the scored transactions with event time >= ``evaluation_start_ms``."""
    period = history.timestamp >= evaluation_start_ms
    rows = period & outcomes.scored
    labels, scores = history.labels[rows], outcomes.score[rows]
    alerts = outcomes.alert[rows]
    precision, recall, f1 = precision_recall_f1(labels, alerts)
    users = np.array(history.user_id, dtype=object)[rows]
    mean_cpk, daily = card_precision_at_k(
        history.timestamp[rows] // DAY_MS, users, scores, labels, k
    )
    return {
        "transactions": int(period.sum()),
        "scored": int(rows.sum()),
        "rejected": int((period & ~outcomes.scored).sum()),
        "fraud": int(labels.sum()),
        "fraud_rate": float(labels.mean()) if len(labels) else math.nan,
        "roc_auc": roc_auc(labels, scores),
        "average_precision": average_precision(labels, scores),
        "alerts": int(alerts.sum()),
        "alert_rate": float(alerts.mean()) if len(alerts) else math.nan,
        "alert_precision": precision,
        "alert_recall": recall,
        "alert_f1": f1,
        "card_precision_at_k": {
            "k": k,
            "days": len(daily),
            "mean": mean_cpk,
            "daily": [{"day": iso(day * DAY_MS)[:10], "value": value} for day, value in daily],
        },
    }


def bad_rows_section(rows_read: int, bad: list[tuple[int, str]]) -> dict[str, Any]:
    return {
        "rows_read": rows_read,
        "bad_rows": len(bad),
        "bad_row_examples": [
            {"line": line, "reason": reason} for line, reason in bad[:BAD_ROW_EXAMPLES]
        ],
    }


def write_report(path: Path, report: Mapping[str, Any]) -> None:
    """JSON with NaN written as null (a metric that is undefined, e.g. AUC without fraud)."""
    try:
        path.write_text(json.dumps(_finite(report), indent=2) + "\n")
    except OSError as exc:
        raise UsageError(f"cannot write --report {path}: {exc.strerror}") from None


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value
