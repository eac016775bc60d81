"""A label-free performance estimate from calibrated scores (confidence-based estimation).

Labels arrive days or weeks after a payment; the scores are there at once. If the scores are
calibrated (a score of 0.3 means fraud three times in ten), then at a band's threshold t

    expected true alerts   = sum of the alerted scores            (scores >= t)
    expected precision     = mean of the alerted scores
    expected recall        = sum of the alerted scores / sum of all scores

so a window's counts (:class:`~stream_sentinel.logic.drift.window.WindowCounts` keeps the alert
count and the sum of alerted scores per band, and the sum of all scores) give both at once.

The estimate moves when the *scores* move: a shift in who pays, or fewer confident alerts. It
cannot see fraud that the model scores low (a new pattern it has never seen): that needs the
labelled monitors of :mod:`~stream_sentinel.logic.drift.performance`. It also trusts the
calibration, so it is only as good as the calibration on the reference window.

The drift check compares a window's expected precision with the reference's. With no change, the
window's mean alerted score differs from the reference's by sampling alone, with variance
``v / k_window + v / k_reference`` (``v`` the variance of the reference's alerted scores, ``k``
the alert counts); the two-sided normal p-value of that difference goes into the window's family
of tests, and the interval is the reference's mean plus or minus ``z(1 - alpha/2)`` of it.
That normal approximation needs enough alerts on both sides: below :data:`MIN_ALERTS` (the
usual rule of thumb of thirty for a mean of a skewed quantity) no check is made.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

from stream_sentinel.logic.drift.reference import BandProfile

#: Fewest alerts, in the window and in the reference, for the expected-precision check.
MIN_ALERTS = 30


@dataclass(frozen=True, slots=True)
class PerformanceEstimate:
    """Expected precision and recall at one band's threshold, from scores alone."""

    alerts: int
    expected_precision: float | None  # None when nothing alerted
    expected_recall: float | None  # None when every score is 0


def estimate(alerts: int, alerted_score_sum: float, score_sum: float) -> PerformanceEstimate:
    """The estimate from a window's (or a batch's) sums."""
    precision = alerted_score_sum / alerts if alerts else None
    recall = alerted_score_sum / score_sum if score_sum > 0 else None
    return PerformanceEstimate(alerts, precision, recall)


def estimate_scores(scores: np.ndarray, threshold: float) -> PerformanceEstimate:
    """The estimate at ``threshold`` from raw calibrated scores."""
    alerted = scores[scores >= threshold]
    return estimate(len(alerted), float(alerted.sum()), float(scores.sum()))


@dataclass(frozen=True, slots=True)
class PrecisionCheck:
    """A window's expected precision against the reference's interval for a window that size."""

    expected_precision: float
    reference_precision: float
    low: float
    high: float
    p_value: float


def check_precision(
    band: BandProfile, alerts: int, alerted_score_sum: float, alpha: float
) -> PrecisionCheck | None:
    """The check for one band, or None where either side has fewer than MIN_ALERTS alerts."""
    if min(alerts, band.alerts) < MIN_ALERTS:
        return None
    if band.score_mean is None or band.score_variance is None:
        return None
    spread = math.sqrt(band.score_variance / alerts + band.score_variance / band.alerts)
    observed = alerted_score_sum / alerts
    if spread == 0.0:
        p_value = 1.0 if observed == band.score_mean else 0.0
    else:
        p_value = float(2 * stats.norm.sf(abs(observed - band.score_mean) / spread))
    half = float(stats.norm.isf(alpha / 2)) * spread
    return PrecisionCheck(
        observed, band.score_mean, band.score_mean - half, band.score_mean + half, p_value
    )
