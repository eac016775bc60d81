"""The label-free estimate on calibrated synthetic scores, where the true precision is known."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from stream_sentinel.logic.drift.estimate import (
    MIN_ALERTS,
    check_precision,
    estimate,
    estimate_scores,
)
from stream_sentinel.logic.drift.reference import band_profile
from stream_sentinel.logic.drift.synthetic import calibrated_labels

pytestmark = pytest.mark.unit

THRESHOLD = 0.3


def calibrated_scores(rng: np.random.Generator, n: int, b: float = 6.0) -> np.ndarray:
    return rng.beta(0.6, b, n)


def test_the_estimate_is_the_mean_alerted_score_and_the_alerted_share_of_all_scores() -> None:
    result = estimate_scores(np.array([0.9, 0.5, 0.1, 0.1, 0.4]), threshold=0.4)
    assert result.alerts == 3
    assert result.expected_precision == pytest.approx(0.6)  # (0.9 + 0.5 + 0.4) / 3
    assert result.expected_recall == pytest.approx(0.9)  # 1.8 / 2.0


def test_nothing_alerted_and_nothing_scored_give_no_estimate() -> None:
    assert estimate(0, 0.0, 0.0).expected_precision is None
    assert estimate(0, 0.0, 0.0).expected_recall is None


def test_with_calibrated_scores_the_estimate_is_within_its_spread_of_the_true_precision() -> None:
    # the true precision of a window is binomial around the expected one with variance
    # sum(s * (1 - s)) / alerts**2; over seeded windows ~95% fall within 1.96 of it
    inside, errors = 0, []
    for seed in range(400):
        rng = np.random.default_rng(seed)
        scores = calibrated_scores(rng, 2000)
        labels = calibrated_labels(rng, scores)
        alerted = scores >= THRESHOLD
        expected = estimate_scores(scores, THRESHOLD).expected_precision
        assert expected is not None
        sd = np.sqrt(np.sum(scores[alerted] * (1 - scores[alerted]))) / alerted.sum()
        error = (labels[alerted].mean() - expected) / sd
        errors.append(error)
        inside += abs(error) <= 1.96
    print(f"coverage {inside}/400, mean standardised error {np.mean(errors):+.3f}")
    low, high = stats.binom.ppf([0.005, 0.995], 400, 0.95)
    assert low <= inside <= high
    assert abs(np.mean(errors)) < 3 / np.sqrt(400)  # no bias beyond three standard errors


def test_expected_recall_matches_the_true_recall_on_a_large_calibrated_window() -> None:
    rng = np.random.default_rng(8)
    scores = calibrated_scores(rng, 200_000)
    labels = calibrated_labels(rng, scores)
    recall = labels[scores >= THRESHOLD].sum() / labels.sum()
    assert estimate_scores(scores, THRESHOLD).expected_recall == pytest.approx(recall, abs=0.01)


def test_the_precision_check_flags_a_shift_in_scores_and_rarely_an_unchanged_window() -> None:
    rng = np.random.default_rng(9)
    band = band_profile(calibrated_scores(rng, 100_000), THRESHOLD)
    flagged_unchanged = flagged_shifted = 0
    for _ in range(300):
        unchanged = calibrated_scores(rng, 3000)
        shifted = calibrated_scores(rng, 3000, b=3.0)  # more, and more confident, alerts
        for scores, is_shifted in ((unchanged, False), (shifted, True)):
            alerted = scores[scores >= THRESHOLD]
            check = check_precision(band, len(alerted), float(alerted.sum()), 0.05)
            assert check is not None
            flagged = check.p_value < 0.05
            assert flagged == (not check.low <= check.expected_precision <= check.high)
            if is_shifted:
                flagged_shifted += flagged
            else:
                flagged_unchanged += flagged
    print(f"flagged: unchanged {flagged_unchanged}/300, shifted {flagged_shifted}/300")
    assert flagged_unchanged <= stats.binom.ppf(0.99, 300, 0.05)
    assert flagged_shifted >= 0.9 * 300


def test_too_few_alerts_make_no_check() -> None:
    band = band_profile(np.linspace(0.0, 1.0, 1001), 0.5)
    assert check_precision(band, MIN_ALERTS - 1, 0.7 * (MIN_ALERTS - 1), 0.05) is None
    check = check_precision(band, MIN_ALERTS, 0.75 * MIN_ALERTS, 0.05)
    assert check is not None
    assert check.reference_precision == pytest.approx(0.75)
    assert check.p_value == pytest.approx(1.0)
