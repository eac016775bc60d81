"""Always-valid evidence that a challenger's recall differs from the champion's.

The test is the mixture sequential probability ratio test (mSPRT) of Johari, Pekelis and Walsh
("Always valid inference", 2017) on an asymptotically normal estimate. With ``D`` the estimate
of the difference ``theta = recall(challenger) - recall(champion)`` and ``V`` its variance, the
likelihood ratio of "theta ~ N(0, tau**2)" against "theta = 0" is

    L = sqrt(V / (V + tau**2)) * exp(tau**2 * D**2 / (2 * V * (V + tau**2)))

and rejecting "theta = 0" the first time ``L >= 1 / alpha`` keeps the chance of ever rejecting a
true null at most ``alpha``, however often one looks (``L`` is a nonnegative martingale under
the null; Ville's inequality). The matching confidence interval is valid at every look too.

Why this and not a group-sequential design with alpha spending: labels arrive one at a time, days
after the decisions, at a rate nobody controls, so there is no natural schedule of looks, and
the maximum duration is a business limit rather than a planned sample size. The mSPRT may be
read after every label, needs no horizon, and gives the interval `experiments status` shows.
It pays for that in power at a fixed horizon: ``experiments simulate`` measures how much.

``tau`` is the effect size the mixture favours; the minimum detectable effect is a good choice
(the test is most sensitive near it). Two designs give ``D`` and ``V``: :func:`paired` when both
models scored the same frauds (shadow mode: one difference per fraud) and :func:`two_sample`
when each fraud was decided by one arm (split mode).

>>> e = evidence(paired(n=400, total=40.0, squares=40.0), tau=0.05, alpha=0.05)
>>> (e.verdict, round(e.estimate, 3), [round(x, 3) for x in e.interval])
('better', 0.1, [0.054, 0.146])
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: The smallest variance of one observation used: a stream whose differences were all equal so
#: far (0 variance) would otherwise count as infinitely precise.
MIN_UNIT_VARIANCE = 0.01


@dataclass(frozen=True)
class Estimate:
    """An estimate of the difference and its variance, from ``labels`` observations."""

    labels: int
    value: float
    variance: float


@dataclass(frozen=True)
class Evidence:
    """Where the test stands after the labels so far."""

    labels: int
    estimate: float
    interval: tuple[float, float]  # always-valid (1 - alpha) confidence interval
    log_ratio: float  # log L
    threshold: float  # log(1 / alpha)
    verdict: str  # "better", "worse" or "undecided"

    @property
    def decided(self) -> bool:
        return self.verdict != "undecided"


def paired(n: int, total: float, squares: float) -> Estimate:
    """The mean of ``n`` paired differences (challenger caught - champion caught, per fraud),
    from their sum and sum of squares."""
    if n <= 1:
        return Estimate(n, 0.0, math.inf)
    mean = total / n
    unit = max((squares - n * mean * mean) / (n - 1), MIN_UNIT_VARIANCE)
    return Estimate(n, mean, unit / n)


def two_sample(caught_a: int, frauds_a: int, caught_b: int, frauds_b: int) -> Estimate:
    """Recall of arm b minus recall of arm a, each from its own frauds. The proportions are
    shrunk by half a fraud towards 1/2 for the variance, so an arm that caught every fraud so
    far does not count as certain."""
    if frauds_a == 0 or frauds_b == 0:
        return Estimate(frauds_a + frauds_b, 0.0, math.inf)
    value = caught_b / frauds_b - caught_a / frauds_a
    pa, pb = (caught_a + 0.5) / (frauds_a + 1), (caught_b + 0.5) / (frauds_b + 1)
    variance = pa * (1 - pa) / frauds_a + pb * (1 - pb) / frauds_b
    return Estimate(frauds_a + frauds_b, value, variance)


def log_ratio(value: np.ndarray, variance: np.ndarray, tau: float) -> np.ndarray:
    """log L for arrays of estimates and variances (elementwise; an infinite variance is 0)."""
    t2 = tau * tau
    with np.errstate(divide="ignore", invalid="ignore"):
        out = 0.5 * np.log(variance / (variance + t2)) + t2 * value * value / (
            2 * variance * (variance + t2)
        )
    return np.where(np.isfinite(variance), out, 0.0)


def half_width(variance: float, tau: float, alpha: float) -> float:
    """Half the always-valid interval's width: the set of theta0 with L(theta0) < 1 / alpha."""
    if not math.isfinite(variance):
        return math.inf
    t2 = tau * tau
    return math.sqrt(
        variance
        * (variance + t2)
        / t2
        * (2 * math.log(1 / alpha) + math.log((variance + t2) / variance))
    )


def evidence(estimate: Estimate, tau: float, alpha: float) -> Evidence:
    """The verdict so far: the sign of the difference once ``L`` has reached ``1 / alpha``."""
    score = float(log_ratio(np.asarray(estimate.value), np.asarray(estimate.variance), tau))
    threshold = math.log(1 / alpha)
    width = half_width(estimate.variance, tau, alpha)
    verdict = "undecided"
    if score >= threshold:
        verdict = "better" if estimate.value > 0 else "worse"
    interval = (estimate.value - width, estimate.value + width)
    return Evidence(estimate.labels, estimate.value, interval, score, threshold, verdict)


def projected_labels(estimate: Estimate, tau: float, alpha: float, limit: int) -> int | None:
    """Labels until a decision if the difference stays where it is and the variance shrinks as
    1/n (None if not within ``limit`` labels, or the difference is 0)."""
    if estimate.labels < 2 or estimate.value == 0 or not math.isfinite(estimate.variance):
        return None
    n = np.arange(estimate.labels, limit + 1, dtype=np.float64)
    variance = estimate.variance * estimate.labels / n
    crossed = np.flatnonzero(
        log_ratio(np.full_like(n, estimate.value), variance, tau) >= math.log(1 / alpha)
    )
    return int(n[crossed[0]]) if len(crossed) else None
