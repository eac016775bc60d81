"""`stream-sentinel backtest` as a user runs it: a generated month, a 7-day label delay and a
14-day warmup; the scores file and the report are checked against each other and the input."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from stream_sentinel.backtest.outcomes import SCORE_COLUMNS
from stream_sentinel.logic.evaluation import (
    average_precision,
    card_precision_at_k,
    precision_recall_f1,
    roc_auc,
)

DAY_MS = 86_400_000
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
SENTINEL = [sys.executable, "-m", "stream_sentinel"]


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*SENTINEL, *args], cwd=cwd, capture_output=True, text=True, timeout=600, check=False
    )


@pytest.fixture(scope="module")
def month(tmp_path_factory: pytest.TempPathFactory) -> Path:
    workdir = tmp_path_factory.mktemp("backtest")
    made = _cli(
        "generate",
        *("--count", "36000", "--users", "300", "--fraud-rate", "0.02", "--seed", "21"),
        *("-o", "tx.csv"),
        cwd=workdir,
    )
    assert made.returncode == 0, made.stderr
    return workdir


@pytest.fixture(scope="module")
def run(month: Path) -> subprocess.CompletedProcess[str]:
    result = _cli(
        "backtest",
        "tx.csv",
        "--map",
        "transaction_id=transaction_id,user_id=user_id,amount=amount,timestamp=timestamp",
        *("--label-column", "is_fraud", "--label-delay", "7d", "--warmup", "14d"),
        *("--output", "s.csv", "--report", "r.json"),
        cwd=month,
    )
    assert result.returncode == 0, result.stderr
    return result


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def _ms(text: str) -> int:
    return (datetime.fromisoformat(text) - EPOCH) // timedelta(milliseconds=1)


def test_the_table_and_the_progress_bar(run: subprocess.CompletedProcess[str]) -> None:
    for name in ("ROC AUC", "average precision", "alert precision", "card precision@100"):
        assert name in run.stdout
    assert "36000/36000" in run.stderr  # the progress bar's last state
    assert "ETA" in run.stderr
    assert ": lightgbm m-" in run.stderr and "promoted: no champion yet" in run.stderr


def test_the_scores_file_has_one_row_per_transaction(
    month: Path, run: subprocess.CompletedProcess[str]
) -> None:
    source = {r["transaction_id"]: r for r in _read(month / "tx.csv")}
    with (month / "s.csv").open(newline="") as handle:
        assert next(csv.reader(handle)) == list(SCORE_COLUMNS)
    scores = _read(month / "s.csv")
    assert len(scores) == len(source) == 36_000
    assert {r["transaction_id"] for r in scores} == set(source)
    times = [_ms(r["event_time"]) for r in scores]
    assert times == sorted(times)
    assert all(
        _ms(r["event_time"]) == int(source[r["transaction_id"]]["timestamp"]) for r in scores
    )
    assert all(r["label"] == source[r["transaction_id"]]["is_fraud"] for r in scores)
    assert all(r["user_id"] == source[r["transaction_id"]]["user_id"] for r in scores)
    start = times[0] + 14 * DAY_MS
    for row, at in zip(scores, times, strict=True):
        assert row["period"] == ("evaluation" if at >= start else "warmup")
        assert (row["model_version"] != "") == (at >= start)
        assert row["decision"] in ("APPROVE", "REVIEW", "CHALLENGE", "DECLINE")
        assert 0.0 <= float(row["score"]) <= 1.0


def test_the_report_matches_the_scores_file(
    month: Path, run: subprocess.CompletedProcess[str]
) -> None:
    report = json.loads((month / "r.json").read_text())
    rows = [r for r in _read(month / "s.csv") if r["period"] == "evaluation"]
    labels = np.array([int(r["label"]) for r in rows])
    scores = np.array([float(r["score"]) for r in rows])
    alerts = np.array([r["risk_level"] in ("MEDIUM", "HIGH", "CRITICAL") for r in rows])
    evaluation = report["evaluation"]
    assert (evaluation["transactions"], evaluation["scored"], evaluation["fraud"]) == (
        len(rows),
        len(rows),
        int(labels.sum()),
    )
    assert evaluation["roc_auc"] == roc_auc(labels, scores)
    assert evaluation["average_precision"] == average_precision(labels, scores)
    assert (evaluation["alerts"], evaluation["alert_rate"]) == (int(alerts.sum()), alerts.mean())
    precision, recall, f1 = precision_recall_f1(labels, alerts)
    assert (evaluation["alert_precision"], evaluation["alert_recall"]) == (precision, recall)
    assert evaluation["alert_f1"] == f1
    days = np.array([_ms(r["event_time"]) // DAY_MS for r in rows])
    users = np.array([r["user_id"] for r in rows])
    mean, daily = card_precision_at_k(days, users, scores, labels, 100)
    cpk = evaluation["card_precision_at_k"]
    assert (cpk["k"], cpk["days"], cpk["mean"]) == (100, len(daily), mean)
    assert [d["value"] for d in cpk["daily"]] == [value for _, value in daily]
    assert report["settings"]["label_delay"] == "7d" and report["settings"]["warmup"] == "14d"
    assert report["input"]["bad_rows"] == 0 and report["input"]["transactions"] == 36_000
    [model] = report["models"]
    assert model["trained_at"] == report["evaluation_start"]
    assert (model["kind"], model["decision"], model["promoted"]) == ("lightgbm", "champion", True)
    assert {r["model_version"] for r in rows} == {model["version"]}
    assert report["throughput"]["rows_per_s"] > 0
