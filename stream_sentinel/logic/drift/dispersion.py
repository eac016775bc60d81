"""How much wider than the theory a monitor's null distribution is, and the test that allows it.

Every monitor's p-value assumes a window is a fresh sample of the reference's distribution.
Live traffic is not: it follows the time of day (an hour of the night is not a sample of a
day) and a user's payments are not independent, so under no change the statistics spread
wider than their chi-square. The spread is measured on the reference itself, once, when it is
built (:mod:`~stream_sentinel.logic.drift.calibration`): each of its hours checked against the
rest gives each monitor one statistic on the chi-square scale, ``x_h`` with ``k_h`` degrees of
freedom, and the *dispersion* is their ratio of sums

    phi = sum(x_h) / sum(k_h)

the quasi-likelihood estimate of over-dispersion (Pearson's chi-square over its degrees of
freedom), 1 when the theory holds. Each ``x_h`` is capped first, at the theory's ``1 - 1e-6``
quantile times the hours' median spread (each hour's statistic over its theory's median, a
dispersion no minority of hours moves): one burst hour whose p-value underflows to 0 (``x_h``
infinite) must not make phi infinite and switch the monitor off for the model's life, and the
cap must not cut the bulk of a monitor whose every hour is wide.

phi measured on hours of ``n_ref`` rows (the reference's mean per hour, thinned by the per-hour
cap on the reference rows) does not hold for windows of another size. Its excess over 1 has
two parts: the time of day (a difference of shares, fixed as n grows, while the sampling noise
shrinks like 1/n: this part grows in proportion to the rows) and a user's payments together
(a design effect, the same at any n). One reference cannot tell them apart, so a window of
``n`` rows takes the larger of the two readings,

    phi(n) = 1 + (phi - 1) * max(n / n_ref, 1)

(scaled up for windows larger than the reference hours, never down for smaller ones: on six
seeded references of time-of-day traffic, 288 unchanged windows at 0.005, the linear scaling
both ways alarmed on 11 windows of the full references where this alarms on 2, as unscaled does;
on references thinned to a quarter of each hour both alarm on 18, unscaled on 121). A window's
statistic ``x`` with ``k`` degrees of freedom is then tested as ``(x / k) / phi(n)``,
F-distributed with ``k`` and ``sum(k_h)`` degrees of freedom when ``x`` is ``phi(n)`` times a
chi-square: the F, not the chi-square, because phi is itself estimated from a day's hours. The
theory's test is kept when phi is measured at or below 1 (the reference cannot make a monitor
less strict than its theory, and the F would only cost power) or on fewer than ``MIN_HOURS``
hours (an F with a handful of degrees of freedom has almost none). Monitors whose statistic is a
p-value (the exact binomial, the precision's normal test) are put on the scale of a chi-square
with one degree of freedom, ``x = chi2.isf(p, 1)``. KS is calibrated on its own scale: ``n D^2``
tends to the Kolmogorov distribution's square, mean ``pi^2 / 12``, so its ``x`` is ``n D^2 /
(pi^2 / 12)`` (mean 1), its factor ``c`` is the mean of the hours', and a window's p-value is
``kstwobign.sf(D * sqrt(n / c(n)))`` (no F: the statistic is not a chi-square).

>>> d = Dispersion(factor=4.0, dof=24, hours=24, rows=100.0)
>>> round(calibrated_p_value(8.0, 2, d, 100), 4)
0.3827
>>> round(calibrated_p_value(8.0, 2, d, 200), 4)
0.5722
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from statistics import median as statistics_median
from typing import Any

from scipy import stats

#: Fewer reference hours than this measure no dispersion the tests use: the theory's test.
MIN_HOURS = 12
#: An hour's statistic is capped at the theory's quantile of this upper tail.
HOUR_CAP_P = 1e-6
#: The mean of the Kolmogorov distribution's square, the null mean of ``n D^2``.
KS_MEAN = math.pi**2 / 12


@dataclass(frozen=True, slots=True)
class Dispersion:
    """One monitor's measured dispersion: ``factor`` (phi, as measured, may be below 1), the
    degrees of freedom behind it, the reference hours it came from and their mean rows
    (``rows``; 0 for dispersions stored before it was: then phi is not scaled)."""

    factor: float
    dof: int
    hours: int
    rows: float = 0.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.factor) and math.isfinite(self.rows)):
            raise ValueError(f"a dispersion must be finite, not {self.factor} ({self.rows} rows)")

    def applies(self, min_hours: int = MIN_HOURS) -> bool:
        """Whether the tests use it: measured above the theory's 1, on enough hours."""
        return self.factor > 1.0 and self.hours >= min_hours

    def at(self, rows: int) -> float:
        """phi for a window of ``rows`` rows (module docstring)."""
        if self.rows <= 0:
            return self.factor
        return 1.0 + (self.factor - 1.0) * max(rows / self.rows, 1.0)

    def to_json(self) -> dict[str, Any]:
        return {"factor": self.factor, "dof": self.dof, "hours": self.hours, "rows": self.rows}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Dispersion:
        rows = float(data.get("rows", 0.0))
        return cls(float(data["factor"]), int(data["dof"]), int(data["hours"]), rows)


def estimate_dispersion(
    statistics: Sequence[float], dofs: Sequence[int], rows: float = 0.0
) -> Dispersion | None:
    """phi from the reference hours' (capped) chi-square-scale statistics and their degrees of
    freedom, over hours of ``rows`` rows on average. None without at least two hours (one hour
    says nothing about the spread) or with a statistic that is not a number."""
    total = sum(dofs)
    if len(statistics) < 2 or total == 0:
        return None
    if not all(math.isfinite(x) for x in statistics):
        return None
    return Dispersion(float(sum(statistics)) / total, int(total), len(statistics), float(rows))


def hour_cap(dof: int, scale: str = "chi2", spread: float = 1.0) -> float:
    """The largest statistic one reference hour contributes: the theory's ``1 - HOUR_CAP_P``
    quantile times ``spread`` (at least 1; module docstring)."""
    if scale == "ks":
        quantile = float(stats.kstwobign.isf(HOUR_CAP_P)) ** 2 / KS_MEAN
    else:
        quantile = float(stats.chi2.isf(HOUR_CAP_P, max(dof, 1)))
    return quantile * max(spread, 1.0)


def null_median(dof: int, scale: str = "chi2") -> float:
    """The theory's median of a statistic on the chi-square scale (or KS's)."""
    if scale == "ks":
        return float(stats.kstwobign.median()) ** 2 / KS_MEAN
    return float(stats.chi2.median(max(dof, 1)))


def robust_spread(ratios: Sequence[float]) -> float:
    """The median of the hours' statistics over their theory's medians: a dispersion one
    burst hour (or any minority of hours) does not move, what scales the hours' cap."""
    finite = [r for r in ratios if not math.isnan(r)]
    return float(statistics_median(finite)) if finite else 1.0


def chi2_scale(p_value: float) -> float:
    """A p-value as the chi-square statistic (one degree of freedom) with that p-value."""
    return float(stats.chi2.isf(p_value, 1))


def calibrated_p_value(
    statistic: float, dof: int, dispersion: Dispersion, rows: int, scale: str = "chi2"
) -> float:
    """The p-value of a ``statistic`` (on the chi-square scale, or KS's) with ``dof`` degrees
    of freedom in a window of ``rows`` rows, allowing for ``dispersion`` (module docstring)."""
    if dof < 1:
        return 1.0
    phi = dispersion.at(rows)
    if scale == "ks":
        return float(stats.kstwobign.sf(math.sqrt(statistic * KS_MEAN / phi)))
    return float(stats.f.sf(statistic / dof / phi, dof, dispersion.dof))


def calibrated_critical(
    level: float, dof: int, dispersion: Dispersion, rows: int, scale: str = "chi2"
) -> float:
    """The statistic (on the scale of :func:`calibrated_p_value`) whose calibrated p-value is
    ``level``: computed where the statistic lives, so a tiny level or a large phi gives a large
    finite threshold rather than a p-value that underflows."""
    if dof < 1:
        return math.inf
    phi = dispersion.at(rows)
    if scale == "ks":
        return float(stats.kstwobign.isf(level)) ** 2 * phi / KS_MEAN
    return float(stats.f.isf(level, dof, dispersion.dof)) * dof * phi
