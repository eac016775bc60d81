"""check_window on windows with a known change: which monitors alarm, and the alarm records."""

from __future__ import annotations

import numpy as np
import pytest

from stream_sentinel.logic.drift.monitors import (
    DriftAlarm,
    Severity,
    check_window,
    findings,
)
from stream_sentinel.logic.drift.reference import build_reference
from stream_sentinel.logic.drift.synthetic import synthetic_rows
from stream_sentinel.logic.drift.thresholds import psi_critical
from stream_sentinel.logic.drift.window import HOUR_MS, WindowCounts
from stream_sentinel.logic.features import COLUMN, FEATURES

pytestmark = pytest.mark.unit

T0 = 1_767_225_600_000
BANDS = {"LOW": 0.1, "MEDIUM": 0.3, "HIGH": 0.5}
ROWS, SCORES = synthetic_rows(np.random.default_rng(31), 100_000)
REFERENCE = build_reference("v1", ROWS, SCORES, BANDS)


def window_of(rows: np.ndarray, scores: np.ndarray) -> WindowCounts:
    return WindowCounts.empty(REFERENCE, T0, T0 + HOUR_MS).added(REFERENCE, rows, scores)


def alarmed(alarms: list[DriftAlarm]) -> set[tuple[str, str | None]]:
    return {(a.monitor, a.feature) for a in alarms}


def test_a_spending_shift_alarms_on_the_amount_features_only() -> None:
    rows, scores = synthetic_rows(np.random.default_rng(32), 500, amount_scale=1.6)
    window = window_of(rows, scores)
    alarms = check_window(REFERENCE, window)
    assert alarmed(alarms) == {("feature", "amount"), ("feature", "log_amount")}
    amount = next(a for a in alarms if a.feature == "amount")
    bins = 10  # ten value bins, no missing or unseen values
    assert amount.statistic == "psi"
    assert amount.threshold == pytest.approx(psi_critical(500, 100_000, bins, amount.level))
    assert amount.value > amount.threshold
    assert (amount.window_start_ms, amount.window_end_ms) == (T0, T0 + HOUR_MS)
    assert (amount.reference_size, amount.window_size) == (100_000, 500)
    assert amount.severity is Severity.CRITICAL


def test_an_unchanged_window_raises_no_alarm() -> None:
    rows, scores = synthetic_rows(np.random.default_rng(33), 500)
    assert check_window(REFERENCE, window_of(rows, scores)) == []


def test_more_missing_values_alarm_on_that_feature() -> None:
    rows, scores = synthetic_rows(np.random.default_rng(34), 500)
    rows[:150, COLUMN["new_device"]] = np.nan  # ~15% missing becomes ~40%
    assert alarmed(check_window(REFERENCE, window_of(rows, scores))) == {("feature", "new_device")}


def test_a_channel_code_the_reference_never_saw_alarms_on_channel() -> None:
    rows, scores = synthetic_rows(np.random.default_rng(35), 500)
    rows[:20, COLUMN["channel"]] = 9.0
    assert alarmed(check_window(REFERENCE, window_of(rows, scores))) == {("feature", "channel")}


def test_higher_scores_alarm_on_the_prediction_monitors() -> None:
    rows, _ = synthetic_rows(np.random.default_rng(36), 2000)
    scores = np.random.default_rng(37).beta(0.45, 6.0, 2000)  # reference: Beta(0.3, 6)
    found = alarmed(check_window(REFERENCE, window_of(rows, scores)))
    assert {("score-distribution", None), ("score-ks", None), ("alert-rate", "LOW")} <= found
    assert all(monitor != "feature" for monitor, _ in found)


def test_alarm_levels_follow_holm_over_every_monitor_of_the_window() -> None:
    rows, scores = synthetic_rows(np.random.default_rng(32), 500, amount_scale=1.6)
    window = window_of(rows, scores)
    found = findings(REFERENCE, window, 0.05)
    family = len(found)
    levels = sorted(a.level for a in check_window(REFERENCE, window, alpha=0.05))
    # 37 features, score PSI and KS, 3 alert rates, and one precision check: only LOW has the
    # thirty alerts in 500 rows that the check needs
    assert [f.feature for f in found if f.monitor == "estimated-precision"] == ["LOW"]
    assert family == len(FEATURES) + 2 + 3 + 1
    assert levels == pytest.approx([0.05 / family, 0.05 / (family - 1)])


def test_an_empty_window_has_nothing_to_check() -> None:
    window = WindowCounts.empty(REFERENCE, T0, T0 + HOUR_MS)
    assert findings(REFERENCE, window, 0.05) == []
    assert check_window(REFERENCE, window) == []
