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
freedom), 1 when the theory holds. A window's statistic ``x`` with ``k`` degrees of freedom is
then tested as ``(x / k) / phi``, which is F-distributed with ``k`` and ``sum(k_h)`` degrees of
freedom when ``x`` is ``phi`` times a chi-square: the F, not the chi-square, because phi is
itself estimated from a day's hours, and a noisy phi must widen the tail, not narrow it.
``phi`` is never taken below 1 (the reference cannot make a monitor less strict than its
theory). Monitors whose statistic is not a chi-square (the exact binomial, KS, the precision's
normal test) are put on the scale of a chi-square with one degree of freedom, ``x =
chi2.isf(p, 1)``.

>>> d = Dispersion(factor=4.0, dof=24, hours=24)
>>> round(calibrated_p_value(8.0, 2, d), 4)
0.3827
>>> round(calibrated_p_value(8.0, 2, None), 4)
0.0183
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from scipy import stats


@dataclass(frozen=True, slots=True)
class Dispersion:
    """One monitor's measured dispersion: ``factor`` (phi, as measured, may be below 1), the
    degrees of freedom behind it, and the reference hours it came from."""

    factor: float
    dof: int
    hours: int

    @property
    def applied(self) -> float:
        """The factor the tests use: never below the theory's 1."""
        return max(self.factor, 1.0)

    def to_json(self) -> dict[str, Any]:
        return {"factor": self.factor, "dof": self.dof, "hours": self.hours}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Dispersion:
        return cls(float(data["factor"]), int(data["dof"]), int(data["hours"]))


def estimate_dispersion(statistics: Sequence[float], dofs: Sequence[int]) -> Dispersion | None:
    """phi from the reference hours' chi-square-scale statistics and their degrees of freedom
    (None without at least two hours: one hour says nothing about the spread)."""
    total = sum(dofs)
    if len(statistics) < 2 or total == 0:
        return None
    return Dispersion(float(sum(statistics)) / total, int(total), len(statistics))


def chi2_scale(p_value: float) -> float:
    """A p-value as the chi-square statistic (one degree of freedom) with that p-value."""
    return float(stats.chi2.isf(p_value, 1))


def calibrated_p_value(statistic: float, dof: int, dispersion: Dispersion | None) -> float:
    """The p-value of a chi-square-scale ``statistic`` with ``dof`` degrees of freedom: the
    chi-square's without a dispersion, the F test's with one (module docstring)."""
    if dof < 1:
        return 1.0
    if dispersion is None:
        return float(stats.chi2.sf(statistic, dof))
    ratio = statistic / dof / dispersion.applied
    return float(stats.f.sf(ratio, dof, dispersion.dof))


def raw_level(level: float, dof: int, dispersion: Dispersion | None) -> float:
    """The uncalibrated p-value a statistic needs for its calibrated one to reach ``level``:
    what turns a monitor's own threshold (at a theory level) into the calibrated threshold."""
    if dispersion is None or dof < 1:
        return level
    needed = float(stats.f.isf(level, dof, dispersion.dof)) * dof * dispersion.applied
    return float(stats.chi2.sf(needed, dof))
