"""Two-sample statistics on binned counts (and KS on raw samples): PSI, chi-square, KS.

PSI, the population stability index, is ``sum((p - q) * ln(p / q))`` over bins, ``p`` the
window's shares and ``q`` the reference's. An empty bin would make it infinite, so each sample
gets :data:`PSI_PSEUDO_COUNT` (half a count) added to every bin before its shares are taken.
Half a count, rather than a fixed tiny share, keeps a bin that happens to be empty in a small
window from dominating the index: at 50 rows an empty 10% bin adds 0.2, not 0.7 as a share
floor of 1e-4 would. Bins empty in both samples are dropped first (they carry no information).

The chi-square and KS functions return a :class:`TestResult` whose values agree with
``scipy.stats.chi2_contingency(correction=False)``, ``scipy.stats.chisquare`` and
``scipy.stats.ks_2samp(method="asymp")``.

>>> psi(np.array([50, 50]), np.array([50, 50]))
0.0
>>> round(psi(np.array([500, 500]), np.array([900, 100])), 4)
0.8762
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

#: Counts added to every bin of each sample before PSI takes shares (see the module docstring).
PSI_PSEUDO_COUNT = 0.5


@dataclass(frozen=True, slots=True)
class TestResult:
    """A test's statistic, its degrees of freedom (0 where none apply) and p-value."""

    statistic: float
    dof: int
    p_value: float


def occupied(reference: np.ndarray, window: np.ndarray) -> np.ndarray:
    """The bins that hold a count in either sample."""
    return (np.asarray(reference) + np.asarray(window)) > 0


def psi(reference: np.ndarray, window: np.ndarray) -> float:
    """PSI of a window's counts against the reference's, over the same bins."""
    keep = occupied(reference, window)
    q = np.asarray(reference, dtype=np.float64)[keep] + PSI_PSEUDO_COUNT
    p = np.asarray(window, dtype=np.float64)[keep] + PSI_PSEUDO_COUNT
    q, p = q / q.sum(), p / p.sum()
    return float(np.sum((p - q) * np.log(p / q)))


def chi_square_homogeneity(reference: np.ndarray, window: np.ndarray) -> TestResult:
    """Pearson's chi-square test that two samples' counts come from one distribution."""
    keep = occupied(reference, window)
    table = np.vstack([reference, window]).astype(np.float64)[:, keep]
    dof = table.shape[1] - 1
    if dof < 1 or table[0].sum() == 0 or table[1].sum() == 0:
        return TestResult(0.0, max(dof, 0), 1.0)
    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0) / table.sum()
    statistic = float(np.sum((table - expected) ** 2 / expected))
    return TestResult(statistic, dof, float(stats.chi2.sf(statistic, dof)))


def chi_square_goodness(observed: np.ndarray, expected_shares: np.ndarray) -> TestResult:
    """Pearson's chi-square test of counts against fixed shares (a reference taken as exact)."""
    observed = np.asarray(observed, dtype=np.float64)
    expected = np.asarray(expected_shares, dtype=np.float64) * observed.sum()
    statistic = float(np.sum((observed - expected) ** 2 / expected))
    dof = len(observed) - 1
    return TestResult(statistic, dof, float(stats.chi2.sf(statistic, dof)))


def ks_counts(reference: np.ndarray, window: np.ndarray) -> TestResult:
    """Two-sample KS on counts over ordered bins: the largest gap between the two cumulative
    shares at a bin edge. Binning hides gaps inside bins, so the statistic is at most the raw
    samples' one and the p-value is conservative."""
    reference = np.asarray(reference, dtype=np.float64)
    window = np.asarray(window, dtype=np.float64)
    m, n = reference.sum(), window.sum()
    if m == 0 or n == 0:
        return TestResult(0.0, 0, 1.0)
    gap = np.abs(np.cumsum(reference) / m - np.cumsum(window) / n)
    return _ks_result(float(gap.max()), int(m), int(n))


def ks_samples(reference: np.ndarray, window: np.ndarray) -> TestResult:
    """Two-sample KS on raw samples (NaN dropped): the largest gap between the empirical CDFs."""
    a = np.sort(reference[~np.isnan(reference)])
    b = np.sort(window[~np.isnan(window)])
    if len(a) == 0 or len(b) == 0:
        return TestResult(0.0, 0, 1.0)
    points = np.concatenate([a, b])
    cdf_a = np.searchsorted(a, points, side="right") / len(a)
    cdf_b = np.searchsorted(b, points, side="right") / len(b)
    return _ks_result(float(np.abs(cdf_a - cdf_b).max()), len(a), len(b))


def _ks_result(statistic: float, m: int, n: int) -> TestResult:
    # Smirnov's asymptotic distribution, as scipy's ks_2samp(method="asymp") takes it
    effective = round(m * n / (m + n))
    return TestResult(statistic, 0, float(np.clip(stats.kstwo.sf(statistic, effective), 0, 1)))


def two_proportion(reference_hits: int, m: int, window_hits: int, n: int) -> TestResult:
    """Two-sided exact test that two binomial rates are equal. Given the hits of both samples
    together, the window's share of them is binomial with chance ``n / (n + m)`` when the rates
    are equal, so the test is scipy's ``binomtest`` on that share: exact at any count, where a
    normal or chi-square approximation alarms far too often on rare events (a top band that
    alerted once in 100 000 reference rows). The reference's rate is a sample too, which is why
    this is not a one-sample binomial test against it."""
    hits = reference_hits + window_hits
    if hits == 0 or n == 0 or m == 0:
        return TestResult(0.0, 0, 1.0)
    result = stats.binomtest(window_hits, hits, n / (n + m))
    return TestResult(window_hits / n, 0, float(result.pvalue))
