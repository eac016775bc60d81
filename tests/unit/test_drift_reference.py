"""The reference profile: bins from the reference's own values, and a stable JSON round trip."""

from __future__ import annotations

import json

import numpy as np
import pytest

from stream_sentinel.logic.drift.bins import (
    CategoryBins,
    QuantileBins,
    category_bins,
    count,
    quantile_bins,
)
from stream_sentinel.logic.drift.reference import (
    CATEGORICAL,
    SCORE_BINS,
    BandProfile,
    Reference,
    build_reference,
)
from stream_sentinel.logic.drift.synthetic import synthetic_rows
from stream_sentinel.logic.features import FEATURES

pytestmark = pytest.mark.unit

BANDS = {"MEDIUM": 0.3, "HIGH": 0.5}


def test_quantile_edges_split_a_continuous_feature_into_equal_counts() -> None:
    values = np.arange(1.0, 101.0)
    bins = quantile_bins(values, bins=4)
    assert bins.edges == (25.0, 50.0, 75.0)
    assert count(bins, values).tolist() == [25, 25, 25, 25, 0, 0]


def test_a_discrete_feature_gets_one_bin_per_repeated_value_and_no_empty_top_bin() -> None:
    values = np.array([0.0] * 70 + [1.0] * 20 + [2.0] * 10)
    bins = quantile_bins(values, bins=10)
    assert bins.edges == (0.0, 1.0)  # the edge at the maximum, 2, is dropped
    assert count(bins, values).tolist() == [70, 20, 10, 0, 0]


def test_no_reference_bin_is_empty_for_skewed_data() -> None:
    values = np.random.default_rng(5).lognormal(0, 2, 1000).round(1)
    counts = count(quantile_bins(values), values)
    assert (counts[:-2] > 0).all()


def test_missing_values_have_their_own_slot() -> None:
    values = np.array([1.0, np.nan, 3.0, np.nan])
    assert count(QuantileBins((2.0,)), values).tolist() == [1, 1, 0, 2]
    assert count(CategoryBins((1.0, 3.0)), values).tolist() == [1, 1, 0, 2]


def test_a_category_the_reference_never_saw_counts_as_unseen() -> None:
    bins = category_bins(np.array([0.0, 1.0, 1.0, 3.0]))
    assert bins.categories == (0.0, 1.0, 3.0)
    assert count(bins, np.array([2.0, 4.0, 3.0, -1.0])).tolist() == [0, 0, 1, 3, 0]


def test_codes_and_flags_are_categories_and_the_rest_are_binned_by_quantile() -> None:
    rows, scores = synthetic_rows(np.random.default_rng(6), 2000)
    reference = build_reference("v7", rows, scores, BANDS)
    kinds = {name: type(p.binning).__name__ for name, p in reference.features.items()}
    assert sorted(n for n, kind in kinds.items() if kind == "CategoryBins") == sorted(CATEGORICAL)
    assert len(kinds) == len(FEATURES) == 37
    assert reference.features["channel"].binning == CategoryBins((0.0, 1.0, 2.0, 3.0, 4.0))
    amount = reference.features["amount"].counts
    # ten bins of 200 rows, give or take the one row a quantile level rounds onto
    assert sum(amount[:10]) == 2000
    assert max(abs(c - 200) for c in amount[:10]) <= 1
    assert amount[10:] == (0, 0)


def test_the_reference_records_missing_share_score_histogram_and_band_alerts() -> None:
    rows = np.full((4, len(FEATURES)), np.nan)
    rows[:3, 0] = [1.0, 2.0, 3.0]
    scores = np.array([0.02, 0.32, 0.61, 0.97])
    reference = build_reference("v1", rows, scores, BANDS)
    assert reference.features["amount"].missing_share == 0.25
    # twenty score bins (right-closed, 0.05 wide), then unseen and missing
    histogram = [0] * 22
    for index in (0, 6, 12, 19):
        histogram[index] = 1
    assert reference.score_counts == tuple(histogram)
    assert len(SCORE_BINS.edges) == 19
    high = reference.bands["HIGH"]
    assert (high.threshold, high.alerts) == (0.5, 2)
    assert high.score_mean == pytest.approx(0.79, rel=1e-12)
    assert high.score_variance == pytest.approx(0.0324, rel=1e-9)  # ((0.97 - 0.61) / 2) ** 2
    assert reference.alert_rate("MEDIUM") == 0.75


def test_a_band_no_reference_score_reached_has_no_mean() -> None:
    reference = build_reference("v1", np.zeros((2, len(FEATURES))), np.array([0.1, 0.2]), BANDS)
    assert reference.bands["HIGH"] == BandProfile(0.5, 0, None, None)


def test_the_reference_survives_json_unchanged_and_serialises_the_same_twice() -> None:
    rows, scores = synthetic_rows(np.random.default_rng(7), 3000)
    reference = build_reference("v3", rows, scores, {"LOW": 0.1, "CRITICAL": 0.99})
    text = json.dumps(reference.to_json(), sort_keys=True, allow_nan=False)
    restored = Reference.from_json(json.loads(text))
    assert restored == reference
    assert json.dumps(restored.to_json(), sort_keys=True, allow_nan=False) == text


def test_bins_have_labels_a_reader_can_place() -> None:
    assert QuantileBins((1.5, 3.0)).labels() == [
        "(-inf, 1.5]",
        "(1.5, 3.0]",
        "(3.0, inf]",
        "unseen",
        "missing",
    ]
    assert CategoryBins((0.0, 1.0)).labels() == ["0.0", "1.0", "unseen", "missing"]
