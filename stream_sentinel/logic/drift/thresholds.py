"""Alarm thresholds that depend on the sample sizes, and the correction across many tests.

A fixed PSI cut-off (0.1, 0.25) ignores how many rows a window holds: PSI measured on 50 rows
from an unchanged distribution is often above 0.1 by chance alone, on 50 000 rows almost never.
Here the cut-off comes from PSI's distribution when nothing changed. For small differences,
``(p - q) * ln(p / q)`` is close to ``(p - q)**2 / q``, so PSI is close to Pearson's two-sample
chi-square statistic divided by ``1 / (1/n + 1/m)`` (n window rows, m reference rows), and

    PSI / (1/n + 1/m)  ~  chi-square with (bins - 1) degrees of freedom

where ``bins`` counts the bins occupied in either sample. :func:`psi_critical` is the PSI a
window must exceed to be called different at level ``alpha``; :func:`psi_p_value` is the
corresponding p-value. The ``1/m`` term is there because the reference is a sample too.

That guarantee holds averaged over the references one might have drawn. Every window of a
model is compared with the *same* reference, whose own sampling error is then a fixed offset
shared by all its windows: with m four times n (n 5 000), one feature's false-alarm rate at
alpha 5% ranged from 1% to 14% across 30 seeded references (300 windows each, mean 5.2%; see
``tests/unit/test_drift_false_alarms.py``). Build references at least twenty times larger than
a window (a training window is usually far larger than an hour); the offset shrinks with n/m.

About thirty features are tested per window, so testing each at ``alpha`` would alarm on
roughly ``1 - (1 - alpha)**30`` of unchanged windows. :func:`holm` keeps the chance of *any*
false alarm in a window at most ``alpha`` (the family-wise error rate). Holm rather than
Benjamini-Hochberg: an alarm pages someone and may trigger a retrain, so the promise wanted is
"an unchanged window alarms at most alpha of the time", which is the family-wise rate; and Holm
needs no assumption about how the tests depend on each other (``amount`` and ``log_amount``
have identical bins and so identical p-values).

>>> round(psi_critical(n=50, m=100_000, bins=10, alpha=0.05), 3)
0.339
>>> round(psi_critical(n=5000, m=100_000, bins=10, alpha=0.05), 4)
0.0036
>>> holm([0.001, 0.04, 0.03], alpha=0.05)
[True, False, False]
"""

from __future__ import annotations

from collections.abc import Sequence

from scipy import special, stats

#: The default chance that an unchanged window raises any alarm.
DEFAULT_ALPHA = 0.05


def psi_scale(n: int, m: int) -> float:
    """``1/n + 1/m``: PSI divided by this is approximately chi-square under no change."""
    return 1.0 / n + 1.0 / m


def psi_critical(n: int, m: int, bins: int, alpha: float) -> float:
    """The PSI above which a window of ``n`` rows differs from a reference of ``m`` rows over
    ``bins`` occupied bins, at level ``alpha``."""
    if bins < 2:
        return float("inf")
    return float(stats.chi2.isf(alpha, bins - 1)) * psi_scale(n, m)


def psi_p_value(value: float, n: int, m: int, bins: int) -> float:
    """The chance of a PSI at least ``value`` between two samples of one distribution."""
    if bins < 2 or n == 0 or m == 0:
        return 1.0
    # chdtrc is chi2.sf without the distribution framework's overhead (one call per feature)
    return float(special.chdtrc(bins - 1, value / psi_scale(n, m)))


def holm_levels(p_values: Sequence[float], alpha: float) -> list[float]:
    """The level each p-value is compared with in Holm's step-down procedure: the smallest
    against ``alpha / k``, the next against ``alpha / (k - 1)``, and so on."""
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    levels = [0.0] * len(p_values)
    for rank, i in enumerate(order):
        levels[i] = alpha / (len(p_values) - rank)
    return levels


def holm(p_values: Sequence[float], alpha: float) -> list[bool]:
    """Which hypotheses Holm's procedure rejects: in increasing order of p-value, each one
    below its level, stopping at the first that is not."""
    levels = holm_levels(p_values, alpha)
    rejected = [False] * len(p_values)
    for i in sorted(range(len(p_values)), key=lambda i: p_values[i]):
        if p_values[i] > levels[i]:
            break
        rejected[i] = True
    return rejected
