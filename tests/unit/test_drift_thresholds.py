"""PSI's sample-size-aware cut-off and Holm's correction, against values worked out by hand."""

from __future__ import annotations

import pytest
from scipy import stats

from stream_sentinel.logic.drift.thresholds import holm, holm_levels, psi_critical, psi_p_value

pytestmark = pytest.mark.unit


def test_the_psi_cut_off_is_the_chi_square_quantile_times_one_over_n_plus_one_over_m() -> None:
    quantile = stats.chi2.isf(0.01, 9)  # 21.666
    assert psi_critical(100, 10_000, 10, 0.01) == pytest.approx(quantile * (0.01 + 0.0001))
    assert psi_critical(100, 10_000, 10, 0.01) == pytest.approx(0.21883, abs=1e-5)


def test_the_psi_cut_off_falls_as_the_window_grows() -> None:
    cut_offs = [psi_critical(n, 1_000_000, 12, 0.05) for n in (50, 500, 5000, 50_000)]
    assert cut_offs == sorted(cut_offs, reverse=True)
    assert cut_offs[0] == pytest.approx(0.3935, abs=1e-4)  # 50 rows: PSI 0.1 is noise
    assert cut_offs[3] == pytest.approx(0.000413, abs=1e-6)  # 50 000 rows: 0.001 is not


def test_the_p_value_at_the_cut_off_is_the_level() -> None:
    cut_off = psi_critical(500, 20_000, 8, 0.003)
    assert psi_p_value(cut_off, 500, 20_000, 8) == pytest.approx(0.003, rel=1e-9)


def test_a_single_occupied_bin_can_never_alarm() -> None:
    assert psi_critical(500, 20_000, 1, 0.05) == float("inf")
    assert psi_p_value(3.0, 500, 20_000, 1) == 1.0


def test_holm_steps_down_from_the_smallest_p_value_and_stops_at_the_first_kept() -> None:
    p_values = [0.01, 0.04, 0.03, 0.005]
    # sorted: 0.005 vs 0.05/4, 0.01 vs 0.05/3, 0.03 vs 0.05/2 (kept, so 0.04 is kept too)
    assert holm_levels(p_values, 0.05) == pytest.approx([0.05 / 3, 0.05, 0.025, 0.0125])
    assert holm(p_values, 0.05) == [True, False, False, True]


def test_holm_rejects_everything_when_every_p_value_is_below_its_level() -> None:
    assert holm([0.001, 0.002, 0.003], 0.05) == [True, True, True]
    assert holm([], 0.05) == []
