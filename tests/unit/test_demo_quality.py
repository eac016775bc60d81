"""The demo's numbers: the ledger join, caught-by-pattern accounting, quality, latency, summary."""

from __future__ import annotations

import math

import numpy as np
import pytest

from stream_sentinel.config import load_settings
from stream_sentinel.demo.enforcement import Enforcement
from stream_sentinel.demo.ledger import REASONS, Ledger, reason_mask, reason_names
from stream_sentinel.demo.observer import Snapshot
from stream_sentinel.demo.quality import (
    all_fraud,
    false_alarms,
    flagging_rules,
    ground_truth_quality,
    labelled_quality,
    latency,
    pattern_rows,
)
from stream_sentinel.demo.summary import RunInfo, summarize
from stream_sentinel.domain import Decision, RiskLevel
from stream_sentinel.generator.catalog import PATTERN_CODE, PATTERNS
from stream_sentinel.logic.decisions import DECISIONS

APPROVE, REVIEW, DECLINE = (
    DECISIONS.index(d) for d in (Decision.APPROVE, Decision.REVIEW, Decision.DECLINE)
)
CHALLENGE = DECISIONS.index(Decision.CHALLENGE)
FLAGGING = flagging_rules(load_settings(environ={}).detector)


def bits(*names: str) -> int:
    return sum(1 << REASONS.index(name) for name in names)


def seqs(*values: int) -> np.ndarray:
    return np.array(values, dtype=np.int64)


def sent(ledger: Ledger, patterns: list[str]) -> None:
    """Rows 0..n-1 with these patterns ("" = legitimate)."""
    codes = [PATTERN_CODE.get(p, 0) for p in patterns]
    ledger.add_sent(np.arange(len(codes), dtype=np.int64), np.array(codes, dtype=np.int8))


def decide(ledger: Ledger, rows: list[tuple[int, float, int, int]]) -> None:
    """(seq, score, decision, reason bits) per row."""
    ledger.add_verdicts(
        seqs(*[r[0] for r in rows]),
        np.array([r[1] for r in rows]),
        np.array([int(RiskLevel.MEDIUM)] * len(rows), dtype=np.int8),
        np.array([r[2] for r in rows], dtype=np.int8),
        np.array([r[3] for r in rows], dtype=np.uint16),
    )


def test_reason_mask_has_a_bit_per_reason_in_the_detectors_order() -> None:
    fired = np.zeros((3, len(REASONS) - 3), dtype=bool)
    fired[1, 1] = True  # impossible_travel
    mask = reason_mask(
        np.array([True, False, False]),
        np.array([False, False, True]),
        np.array([False, False, True]),
        fired,
    )
    assert [reason_names(int(m)) for m in mask] == [
        ["user_blocked"],
        ["impossible_travel"],
        ["step_up_required", "watched_user"],
    ]


def test_ledger_joins_rows_by_seq_in_any_order_and_grows() -> None:
    ledger = Ledger(capacity=4)
    ledger.add_sent(seqs(5, 2), np.array([1, 0], dtype=np.int8))
    ledger.add_sent(seqs(0, 1, 3, 4), np.zeros(4, dtype=np.int8))
    ledger.add_labels(seqs(5), np.array([True]))
    decide(ledger, [(5, 0.9, DECLINE, bits("card_testing")), (0, 0.1, APPROVE, 0)])
    view = ledger.view()
    assert len(view) == 6
    assert view.pattern.tolist() == [0, 0, 0, 0, 0, 1]
    assert view.decided.tolist() == [True, False, False, False, False, True]
    assert view.flagged.tolist() == [False] * 5 + [True]
    assert view.label.tolist() == [-1] * 5 + [1]
    assert ledger.pattern_of(5) == 1 and ledger.pattern_of(99) == 0


def test_a_view_is_a_copy_the_ledger_does_not_change_under_it() -> None:
    ledger = Ledger()
    sent(ledger, ["", "card_testing"])
    view = ledger.view()
    decide(ledger, [(1, 0.9, DECLINE, 0)])
    assert not view.decided.any()


def test_flagging_rules_are_those_whose_floor_alone_is_not_an_approval() -> None:
    assert set(FLAGGING) == {
        "impossible_travel",
        "card_testing",
        "velocity_burst",
        "new_device_high_amount",
    }


def test_each_caught_payment_counts_once_enforcement_then_rules_then_model() -> None:
    ledger = Ledger()
    sent(ledger, ["card_testing"] * 5 + ["high_amount_outlier"] * 2 + [""] * 3)
    decide(
        ledger,
        [
            (0, 0.9, CHALLENGE, bits("card_testing")),  # a flagging rule
            (1, 0.9, DECLINE, bits("user_blocked", "card_testing")),  # enforcement wins
            (2, 0.8, REVIEW, bits("high_amount_vs_average")),  # a LOW-floor rule: the model
            (3, 0.2, APPROVE, bits("card_testing")),  # missed (approved)
            # row 4 never decided
            (5, 0.7, REVIEW, bits("high_amount_vs_average")),
            (6, 0.1, APPROVE, 0),
            (7, 0.8, REVIEW, 0),  # a false positive
            (8, 0.1, APPROVE, 0),
        ],
    )
    rows = {row.pattern: row for row in pattern_rows(ledger.view(), FLAGGING)}
    testing = rows["card_testing"]
    assert (testing.injected, testing.decided, testing.caught) == (5, 4, 3)
    assert (testing.enforced, testing.by_rules, testing.by_model) == (1, 1, 1)
    assert testing.top_rule == ("card_testing", pytest.approx(2 / 3))
    outlier = rows["high_amount_outlier"]
    assert (outlier.injected, outlier.caught, outlier.by_model) == (2, 1, 1)
    assert outlier.top_rule == ("high_amount_vs_average", 1.0)
    assert rows["velocity_burst"].injected == 0 and rows["velocity_burst"].top_rule is None
    assert list(rows) == list(PATTERNS)
    total = all_fraud(list(rows.values()))
    assert (total.injected, total.caught) == (7, 4)
    legit = false_alarms(ledger.view(), FLAGGING)
    assert (legit.injected, legit.caught, legit.by_model) == (3, 1, 1)
    assert total.enforced + total.by_rules + total.by_model == total.caught
    assert all(row.caught <= row.decided <= row.injected for row in rows.values())


def test_labelled_quality_counts_only_labelled_decided_transactions() -> None:
    ledger = Ledger()
    sent(ledger, ["card_testing", "card_testing", "", "", ""])
    decide(
        ledger,
        [
            (0, 0.9, DECLINE, 0),
            (1, 0.3, APPROVE, 0),
            (2, 0.8, REVIEW, 0),
            (3, 0.1, APPROVE, 0),
            (4, 0.7, REVIEW, 0),
        ],
    )
    ledger.add_labels(seqs(0, 1, 3), np.array([True, True, False]))
    labelled = labelled_quality(ledger.view())
    assert (labelled.transactions, labelled.fraud, labelled.flagged) == (3, 2, 1)
    assert (labelled.precision, labelled.recall) == (1.0, 0.5)
    assert labelled.auc == 1.0  # both frauds outrank the one labelled legit
    overall = ground_truth_quality(ledger.view())
    assert (overall.transactions, overall.fraud, overall.flagged) == (5, 2, 3)
    assert overall.precision == pytest.approx(1 / 3)
    assert overall.recall == 0.5


def test_quality_before_any_label_is_empty_not_an_error() -> None:
    ledger = Ledger()
    sent(ledger, ["", "card_testing"])
    quality = labelled_quality(ledger.view())
    assert (quality.transactions, quality.precision, quality.recall) == (0, 0.0, 0.0)
    assert math.isnan(quality.auc)


def test_latency_percentiles() -> None:
    result = latency(np.arange(1, 101, dtype=float))
    assert result.count == 100
    assert result.p50 == pytest.approx(50.5)
    assert result.p99 == pytest.approx(99.01)
    assert result.max == 100
    assert math.isnan(latency(np.empty(0)).p50)


def test_summary_is_consistent_with_its_snapshot() -> None:
    ledger = Ledger()
    sent(ledger, ["card_testing", "", "", "velocity_burst"])
    decide(ledger, [(0, 0.9, DECLINE, bits("card_testing")), (1, 0.1, APPROVE, 0)])
    ledger.add_labels(seqs(0, 1), np.array([True, False]))
    snapshot = Snapshot(
        sent=4,
        decided=2,
        dead_letters=1,
        decisions={"DECLINE": 1, "APPROVE": 1},
        alerts={"CRITICAL": 1},
        labels_published={"FRAUD": 1, "LEGIT": 1},
        latest=(),
        ledger=ledger.view(),
        latency_ms=np.array([5.0, 7.0]),
        recent_latency_ms=np.empty(0),
        rate=0.0,
        simulated_ms=None,
    )
    info = RunInfo("embedded", "here", "exactly-once", "m-1", 0.99, 1, 100, 10.0, 10.0, 4320.0)
    summary = summarize(
        snapshot,
        Enforcement(actions={"BLOCK_USER": 1}),
        info,
        elapsed_s=2.0,
        simulated_days=0.1,
        labels_applied={"FRAUD": 1, "LEGIT": 1},
        flagging_rules=FLAGGING,
    )
    assert summary.undecided == 1  # 4 sent, 2 decided, 1 dead letter
    assert summary.decision_rate == 1.0
    assert (summary.total.injected, summary.total.caught) == (2, 1)
    assert summary.labelled.transactions == 2 and summary.labelled.recall == 1.0
    assert summary.latency.count == 2 and summary.latency.max == 7.0
