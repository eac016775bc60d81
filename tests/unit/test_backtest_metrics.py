"""Backtest metrics on tiny hand-made inputs whose answers are worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from stream_sentinel.backtest.history import History
from stream_sentinel.backtest.outcomes import Outcomes
from stream_sentinel.backtest.report import evaluation_metrics
from stream_sentinel.logic.evaluation import average_precision, card_precision_at_k, roc_auc

DAY = 86_400_000


def test_auc_counts_the_pairs_a_fraud_wins() -> None:
    # Pairs (fraud, legit): 0.35>0.1 yes, 0.35>0.4 no, 0.8>0.1 yes, 0.8>0.4 yes -> 3/4.
    assert roc_auc(np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8])) == 0.75


def test_auc_counts_a_tie_as_half() -> None:
    # Fraud 0.5 vs legit 0.5: a tie (1/2); fraud 0.2 vs legit 0.5: lost -> 0.5 / 2 pairs.
    assert roc_auc(np.array([1, 0, 1]), np.array([0.5, 0.5, 0.2])) == 0.25


def test_average_precision_weighs_precision_by_the_recall_each_threshold_adds() -> None:
    # Ranked: 0.8 (fraud) 0.4 (legit) 0.35 (fraud) 0.1 (legit):
    # recall 1/2 at precision 1/1, then recall 2/2 at precision 2/3 -> 1/2 + 1/3 = 5/6.
    ap = average_precision(np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8]))
    assert ap == pytest.approx(5 / 6, abs=1e-15)


def test_average_precision_takes_a_tie_as_one_threshold() -> None:
    # 0.5 flags two (one fraud): P 1/2 at R 1/2; 0.2 flags all: P 2/3 at R 1 -> 1/4 + 1/3.
    ap = average_precision(np.array([1, 0, 1]), np.array([0.5, 0.5, 0.2]))
    assert ap == pytest.approx(7 / 12, abs=1e-15)


def test_card_precision_ranks_cards_by_their_best_score_of_the_day() -> None:
    days = np.array([0, 0, 0, 0, 1, 1])
    cards = np.array(["a", "a", "b", "c", "a", "b"])
    scores = np.array([0.2, 0.9, 0.8, 0.1, 0.3, 0.7])
    labels = np.array([1, 0, 0, 1, 1, 1])
    # Day 0: a (best 0.9, a fraud that day), b 0.8 legit, c 0.1 fraud; top 2 = a, b -> 1/2.
    # Day 1: only two cards, both fraud -> 2/2.
    mean, daily = card_precision_at_k(days, cards, scores, labels, k=2)
    assert daily == [(0, 0.5), (1, 1.0)]
    assert mean == 0.75


def test_card_precision_divides_by_k_on_a_quiet_day() -> None:
    mean, daily = card_precision_at_k(
        np.array([3]), np.array(["a"]), np.array([0.9]), np.array([1]), k=4
    )
    assert (mean, daily) == (0.25, [(3, 0.25)])


def test_card_precision_counts_a_tie_at_the_cut_in_expectation() -> None:
    # k = 2: x (0.9, fraud) is in; y (0.5, fraud) and z (0.5, legit) share the last slot.
    mean, _ = card_precision_at_k(
        np.array([0, 0, 0]),
        np.array(["x", "y", "z"]),
        np.array([0.9, 0.5, 0.5]),
        np.array([1, 1, 0]),
        k=2,
    )
    assert mean == 0.75


def test_card_precision_of_nothing_is_undefined() -> None:
    mean, daily = card_precision_at_k(np.array([]), np.array([]), np.array([]), np.array([]))
    assert math.isnan(mean)
    assert daily == []


def _history(times: list[int], users: list[str], labels: list[int]) -> History:
    n = len(times)
    return History(
        [f"t{i}" for i in range(n)],
        users,
        np.ones(n),
        np.array(times, dtype=np.int64),
        np.array(labels, dtype=np.int8),
        np.arange(n) + 2,
    )


def test_the_report_covers_the_scored_rows_of_the_evaluation_period_only() -> None:
    history = _history(
        [0, DAY, DAY + 1, DAY + 2, DAY + 3, 2 * DAY],
        ["w", "a", "b", "c", "d", "a"],
        [1, 0, 0, 1, 1, 0],
    )
    outcomes = Outcomes(len(history))
    outcomes.score[:] = [0.99, 0.1, 0.4, 0.35, 0.0, 0.8]
    outcomes.level[:] = [0, 0, 2, 1, -1, 2]  # row 4 was rejected: no score
    outcomes.alert[:] = [True, False, True, False, False, True]
    outcomes.rejected[4] = "invalid_amount"
    metrics = evaluation_metrics(history, outcomes, evaluation_start_ms=DAY, k=1)
    # Scored evaluation rows: 1..3 and 5 -> labels 0 0 1 0, scores .1 .4 .35 .8
    assert metrics["transactions"] == 5
    assert (metrics["scored"], metrics["rejected"], metrics["fraud"]) == (4, 1, 1)
    assert metrics["roc_auc"] == pytest.approx(1 / 3, abs=1e-15)  # 0.35 beats 0.1 of 3
    assert metrics["average_precision"] == pytest.approx(1 / 3, abs=1e-15)  # third in rank
    # Alerts on rows 2 and 5, both legit: precision 0, recall 0.
    assert (metrics["alerts"], metrics["alert_rate"]) == (2, 0.5)
    assert (metrics["alert_precision"], metrics["alert_recall"], metrics["alert_f1"]) == (
        0.0,
        0.0,
        0.0,
    )
    # Day 1: b (0.4) tops; day 2: a (0.8, legit) -> (0 + 0) / 2 days.
    cpk = metrics["card_precision_at_k"]
    assert (cpk["k"], cpk["days"], cpk["mean"]) == (1, 2, 0.0)
    assert [d["day"] for d in cpk["daily"]] == ["1970-01-02", "1970-01-03"]
