"""Window counts: exact counts in the reference's bins, merging, event-time hours, JSON."""

from __future__ import annotations

import json

import numpy as np
import pytest

from stream_sentinel.logic.drift.reference import build_reference
from stream_sentinel.logic.drift.synthetic import synthetic_rows
from stream_sentinel.logic.drift.window import (
    HOUR_MS,
    WindowCounts,
    WindowMismatch,
    hour_start,
    hourly_windows,
)
from stream_sentinel.logic.features import FEATURES

pytestmark = pytest.mark.unit

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z
BANDS = {"MEDIUM": 0.3, "HIGH": 0.5}
ROWS, SCORES = synthetic_rows(np.random.default_rng(11), 5000)
REFERENCE = build_reference("v1", ROWS, SCORES, BANDS)


def test_a_window_counts_rows_in_the_references_bins_and_sums_alerted_scores() -> None:
    rows = np.full((3, len(FEATURES)), np.nan)
    rows[:, 2] = [1.0, 1.0, 7.0]  # channel: POS twice, a code the reference never had
    scores = np.array([0.1, 0.4, 0.9])
    window = WindowCounts.empty(REFERENCE, T0, T0 + HOUR_MS).added(REFERENCE, rows, scores)
    assert window.size == 3
    assert window.features["channel"] == (0, 2, 0, 0, 0, 1, 0)  # five codes, unseen, missing
    assert window.features["amount"][-1] == 3  # all missing
    assert window.band_alerts == {"MEDIUM": 2, "HIGH": 1}
    assert window.band_score_sums == {"MEDIUM": pytest.approx(1.3), "HIGH": pytest.approx(0.9)}
    assert window.score_sum == pytest.approx(1.4)


def test_windows_counted_apart_merge_into_the_window_counted_at_once() -> None:
    rows, scores = synthetic_rows(np.random.default_rng(12), 900)
    empty = WindowCounts.empty(REFERENCE, T0, T0 + HOUR_MS)
    whole = empty.added(REFERENCE, rows, scores)
    parts = [empty.added(REFERENCE, rows[i::3], scores[i::3]) for i in range(3)]
    assert parts[0].merged(parts[1]).merged(parts[2]).features == whole.features
    merged = parts[2].merged(parts[0]).merged(parts[1])
    assert (merged.size, merged.score_counts, merged.band_alerts) == (
        900,
        whole.score_counts,
        whole.band_alerts,
    )
    assert merged.score_sum == pytest.approx(whole.score_sum, rel=1e-12)


def test_windows_of_different_hours_do_not_merge() -> None:
    first = WindowCounts.empty(REFERENCE, T0, T0 + HOUR_MS)
    second = WindowCounts.empty(REFERENCE, T0 + HOUR_MS, T0 + 2 * HOUR_MS)
    with pytest.raises(WindowMismatch, match="merge only the counts of one hour"):
        first.merged(second)


def test_a_batch_splits_into_the_hours_its_transactions_happened_in() -> None:
    rows, scores = synthetic_rows(np.random.default_rng(13), 5)
    late = T0 + HOUR_MS - 1  # arrives with the next hour's batch, counted in its own hour
    ts = np.array([T0 + HOUR_MS + 5, late, T0 + HOUR_MS, T0 + 10, T0 + 3 * HOUR_MS])
    windows = hourly_windows(REFERENCE, ts, rows, scores)
    assert {start: w.size for start, w in windows.items()} == {
        T0: 2,
        T0 + HOUR_MS: 2,
        T0 + 3 * HOUR_MS: 1,
    }
    assert windows[T0].end_ms == T0 + HOUR_MS
    assert hour_start(late) == T0


def test_a_window_survives_json_unchanged() -> None:
    rows, scores = synthetic_rows(np.random.default_rng(14), 400)
    window = WindowCounts.empty(REFERENCE, T0, T0 + HOUR_MS).added(REFERENCE, rows, scores)
    text = json.dumps(window.to_json(), sort_keys=True, allow_nan=False)
    assert WindowCounts.from_json(json.loads(text)) == window
