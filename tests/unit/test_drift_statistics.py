"""PSI, chi-square and KS on fixed data: values worked out by hand and the same tests in scipy."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from stream_sentinel.logic.drift.statistics import (
    PSI_PSEUDO_COUNT,
    chi_square_goodness,
    chi_square_homogeneity,
    ks_counts,
    ks_samples,
    psi,
    two_proportion,
)

pytestmark = pytest.mark.unit


def test_psi_of_identical_shares_is_zero_whatever_the_sizes() -> None:
    assert psi(np.array([10, 20, 70]), np.array([10, 20, 70])) == 0.0
    assert psi(np.array([100, 200, 700]), np.array([100, 200, 700])) == 0.0


def test_psi_matches_the_formula_worked_by_hand() -> None:
    # shares after half a count per bin: reference (400.5, 600.5)/1001, window (100.5, 100.5)/201
    q = np.array([400.5, 600.5]) / 1001
    p = np.array([0.5, 0.5])
    by_hand = (p[0] - q[0]) * math.log(p[0] / q[0]) + (p[1] - q[1]) * math.log(p[1] / q[1])
    assert psi(np.array([400, 600]), np.array([100, 100])) == pytest.approx(by_hand, rel=1e-12)
    assert psi(np.array([400, 600]), np.array([100, 100])) == pytest.approx(0.04046, abs=1e-5)


def test_an_empty_window_bin_costs_half_a_count_not_infinity() -> None:
    value = psi(np.array([500, 500]), np.array([0, 50]))
    p = np.array([0.5, 50.5]) / 51
    q = np.array([0.5, 0.5])
    assert PSI_PSEUDO_COUNT == 0.5
    assert value == pytest.approx(float(np.sum((p - q) * np.log(p / q))), rel=1e-12)
    assert value == pytest.approx(2.2623, abs=1e-4)


def test_bins_empty_in_both_samples_are_left_out() -> None:
    assert psi(np.array([400, 0, 600]), np.array([100, 0, 100])) == psi(
        np.array([400, 600]), np.array([100, 100])
    )


def test_chi_square_homogeneity_equals_scipys_contingency_test() -> None:
    reference, window = np.array([120, 300, 80, 0, 5]), np.array([30, 50, 30, 0, 0])
    ours = chi_square_homogeneity(reference, window)
    theirs = stats.chi2_contingency(
        np.vstack([reference[[0, 1, 2, 4]], window[[0, 1, 2, 4]]]), correction=False
    )
    assert ours.statistic == pytest.approx(theirs.statistic, rel=1e-12)
    assert ours.dof == theirs.dof == 3
    assert ours.p_value == pytest.approx(theirs.pvalue, rel=1e-9)


def test_chi_square_goodness_equals_scipys_chisquare() -> None:
    observed = np.array([18, 55, 27])
    shares = np.array([0.2, 0.5, 0.3])
    ours = chi_square_goodness(observed, shares)
    theirs = stats.chisquare(observed, shares * 100)
    # by hand: (18-20)^2/20 + (55-50)^2/50 + (27-30)^2/30 = 0.2 + 0.5 + 0.3
    assert ours.statistic == pytest.approx(1.0, rel=1e-12)
    assert ours.statistic == pytest.approx(theirs.statistic, rel=1e-12)
    assert ours.p_value == pytest.approx(theirs.pvalue, rel=1e-12)


def test_ks_on_raw_samples_equals_scipys_asymptotic_ks_2samp() -> None:
    rng = np.random.default_rng(3)
    a, b = rng.normal(0, 1, 700), rng.normal(0.2, 1, 300)
    ours = ks_samples(a, b)
    theirs = stats.ks_2samp(a, b, method="asymp")
    assert ours.statistic == pytest.approx(theirs.statistic, rel=1e-12)
    assert ours.p_value == pytest.approx(theirs.pvalue, rel=1e-9)


def test_ks_on_counts_is_the_largest_gap_of_the_cumulative_shares() -> None:
    # cumulative shares: reference 0.25, 0.75, 1.0; window 0.5, 0.75, 1.0
    result = ks_counts(np.array([100, 200, 100]), np.array([50, 25, 25]))
    assert result.statistic == pytest.approx(0.25, abs=1e-15)
    assert result.p_value == pytest.approx(float(stats.kstwo.sf(0.25, round(400 * 100 / 500))))


def test_ks_on_counts_never_exceeds_ks_on_the_samples_they_bin() -> None:
    rng = np.random.default_rng(4)
    a, b = rng.exponential(1.0, 2000), rng.exponential(1.3, 500)
    edges = np.quantile(a, np.linspace(0, 1, 11)[1:-1])
    binned = ks_counts(*(np.bincount(np.searchsorted(edges, x), minlength=10) for x in (a, b)))
    raw = ks_samples(a, b)
    assert binned.statistic <= raw.statistic
    assert binned.p_value >= raw.p_value


def test_two_proportion_is_the_exact_binomial_test_of_the_windows_share_of_hits() -> None:
    result = two_proportion(reference_hits=20, m=10_000, window_hits=12, n=1_000)
    assert result.statistic == pytest.approx(0.012)
    expected = stats.binomtest(12, 32, 1_000 / 11_000).pvalue
    assert result.p_value == pytest.approx(expected, rel=1e-12)
    assert result.p_value < 1e-4


def test_two_proportion_without_any_hit_is_no_evidence() -> None:
    assert two_proportion(0, 10_000, 0, 500).p_value == 1.0
