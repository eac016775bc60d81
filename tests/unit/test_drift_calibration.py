"""The reference's own empirical null: dispersions by hand and by scipy, and on traffic that
follows the time of day with dependent rows, a false-alarm rate near alpha where the theory's
null distributions alarm on nearly every window."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from stream_sentinel.logic.drift.calibration import calibrated_reference, calibration
from stream_sentinel.logic.drift.dispersion import (
    Dispersion,
    calibrated_critical,
    calibrated_p_value,
    chi2_scale,
    estimate_dispersion,
)
from stream_sentinel.logic.drift.monitors import check_window, findings, raw_findings
from stream_sentinel.logic.drift.reference import Reference, build_reference
from stream_sentinel.logic.drift.synthetic import PATTERNED_FEATURES, patterned_traffic
from stream_sentinel.logic.drift.thresholds import psi_scale
from stream_sentinel.logic.drift.window import HOUR_MS, WindowCounts, hourly_windows

pytestmark = pytest.mark.unit

ALPHA = 0.05
BANDS = {"HIGH": 0.2}
SEEDS = 10  # references, each with the 48 hourly windows of the two days after it


def test_the_dispersion_is_the_statistics_sum_over_their_degrees_of_freedom() -> None:
    assert estimate_dispersion([2.0, 6.0, 1.0], [1, 2, 1], 50.0) == Dispersion(9 / 4, 4, 3, 50.0)
    assert estimate_dispersion([3.0], [1]) is None  # one hour says nothing about the spread
    assert estimate_dispersion([0.0, 0.0], [0, 0]) is None


def test_a_calibrated_p_value_is_the_f_tests_at_the_windows_size() -> None:
    d = Dispersion(4.0, 24, 24, 100.0)
    assert calibrated_p_value(8.0, 2, d, 100) == pytest.approx(stats.f.sf(1.0, 2, 24), rel=1e-12)
    # a window twice the reference hours' rows: phi 1 + 3 * 2 = 7
    assert calibrated_p_value(8.0, 2, d, 200) == pytest.approx(stats.f.sf(4 / 7, 2, 24), rel=1e-12)
    assert calibrated_p_value(8.0, 2, Dispersion(4.0, 24, 24), 200) == calibrated_p_value(
        8.0, 2, d, 100
    )  # stored before the rows were: not scaled
    assert calibrated_p_value(8.0, 0, d, 100) == 1.0
    assert chi2_scale(0.05) == pytest.approx(stats.norm.isf(0.025) ** 2, rel=1e-12)


def test_the_calibrated_critical_value_is_the_statistic_whose_calibrated_p_is_the_level() -> None:
    d = Dispersion(3.0, 48, 24, 100.0)
    for rows in (50, 100, 400):
        needed = calibrated_critical(0.001, 3, d, rows)
        assert calibrated_p_value(needed, 3, d, rows) == pytest.approx(0.001, rel=1e-9)
    assert calibrated_critical(0.001, 0, d, 100) == float("inf")


def two_hour_reference() -> tuple[Reference, dict[str, Dispersion]]:
    # hour 0: 30 payments on channel 0 and 10 on channel 1; hour 1: 20 and 20
    channel = np.array([0.0] * 30 + [1.0] * 10 + [0.0] * 20 + [1.0] * 20)[:, None]
    scores = np.full(80, 0.01)
    ts = np.repeat([0, HOUR_MS], 40)
    reference = build_reference("v1", channel, scores, {}, ("channel",))
    return reference, calibration(reference, channel, scores, ts, ("channel",))


def test_each_hour_is_checked_against_the_other_hours_of_the_reference() -> None:
    _, found = two_hour_reference()
    # each hour against the other: shares (30.5, 10.5) / 41 against (20.5, 20.5) / 41 (half a
    # count per bin), 40 rows each, so PSI over 1/40 + 1/40 on one degree of freedom
    p, q = np.array([30.5, 10.5]) / 41, np.array([20.5, 20.5]) / 41
    statistic = float(np.sum((p - q) * np.log(p / q))) / (1 / 40 + 1 / 40)
    assert set(found) == {"feature[channel]", "score-ks"}  # every score in one bin: no PSI dof
    assert found["feature[channel]"].factor == pytest.approx(statistic, rel=1e-12)
    channel = found["feature[channel]"]
    assert (channel.dof, channel.hours, channel.rows) == (2, 2, 40.0)
    assert found["score-ks"] == Dispersion(0.0, 2, 2, 40.0)  # identical histograms: D = 0


def test_the_calibration_is_stored_with_the_reference_and_older_references_have_none() -> None:
    reference, found = two_hour_reference()
    calibrated = Reference(
        "v1", reference.size, reference.features, reference.score_counts, {}, found
    )
    data = calibrated.to_json()
    assert data["calibration"]["score-ks"] == {"factor": 0.0, "dof": 2, "hours": 2, "rows": 40.0}
    assert Reference.from_json(data) == calibrated
    del data["calibration"]
    assert Reference.from_json(data).calibration == {}


def patterned(
    seed: np.random.SeedSequence, amount_scale: float = 1.0
) -> tuple[Reference, Reference, list[WindowCounts]]:
    """Day 0 of patterned traffic as a reference with and without its calibration, and the
    hourly windows of days 1 and 2 (amounts multiplied by ``amount_scale``)."""
    ts, rows, scores = patterned_traffic(np.random.default_rng(seed), days=3)
    day0 = ts < 24 * HOUR_MS
    reference = calibrated_reference(
        "v1", rows[day0], scores[day0], ts[day0], BANDS, PATTERNED_FEATURES
    )
    plain = build_reference("v1", rows[day0], scores[day0], BANDS, PATTERNED_FEATURES)
    later = rows[~day0].copy()
    later[:, 0] *= amount_scale
    windows = hourly_windows(reference, ts[~day0], later, scores[~day0], PATTERNED_FEATURES)
    return reference, plain, list(windows.values())


@pytest.fixture(scope="module")
def stationary() -> list[tuple[Reference, Reference, list[WindowCounts]]]:
    return [patterned(seed) for seed in np.random.SeedSequence(7).spawn(SEEDS)]


def test_on_patterned_dependent_traffic_the_calibration_alarms_near_alpha_and_theory_does_not(
    stationary: list[tuple[Reference, Reference, list[WindowCounts]]],
) -> None:
    windows = sum(len(w) for _, _, w in stationary)
    new = sum(bool(check_window(ref, w, ALPHA)) for ref, _, ws in stationary for w in ws)
    old = sum(bool(check_window(plain, w, ALPHA)) for _, plain, ws in stationary for w in ws)
    print(f"{windows} windows: {old} alarmed against theory, {new} calibrated")
    assert windows == SEEDS * 48
    assert (old, new) == (449, 27)
    assert new <= stats.binom.ppf(0.99, windows, ALPHA)  # 36: alpha and its binomial spread
    assert old >= 0.9 * windows


def test_a_calibrated_threshold_is_the_statistic_whose_calibrated_p_value_is_the_level(
    stationary: list[tuple[Reference, Reference, list[WindowCounts]]],
) -> None:
    reference, _, windows = stationary[0]
    window = windows[0]
    [amount] = [f for f in findings(reference, window, ALPHA) if f.subject == "feature[amount]"]
    [raw] = [f for f in raw_findings(reference, window, ALPHA) if f.subject == "feature[amount]"]
    d = reference.calibration["feature[amount]"]
    n = window.size
    assert amount.p_value == calibrated_p_value(raw.chi2, raw.dof, d, n)
    scale = psi_scale(window.size, reference.size)
    needed = amount.critical(0.001)
    assert calibrated_p_value(needed / scale, raw.dof, d, n) == pytest.approx(0.001, rel=1e-9)
    assert needed > raw.critical(0.001)  # wider than the theory's


def amount_alarms(reference: Reference, windows: list[WindowCounts]) -> int:
    return sum(
        any(
            (a.monitor, a.feature) == ("feature", "amount")
            for a in check_window(reference, w, ALPHA)
        )
        for w in windows
    )


def test_a_spending_shift_on_patterned_traffic_still_alarms_and_a_small_one_less_often() -> None:
    # the price of the wider null: where the hours disperse six times the theory, amounts 1.5
    # times larger are seen in fewer windows than the theory sees them; 3 times, in every one
    [seed] = np.random.SeedSequence(8).spawn(1)
    found = {}
    for scale in (1.5, 3.0):
        reference, plain, windows = patterned(seed, amount_scale=scale)
        found[scale] = (amount_alarms(reference, windows), amount_alarms(plain, windows))
    assert reference.calibration["feature[amount]"].factor == pytest.approx(6.29, abs=0.01)
    assert found == {1.5: (21, 48), 3.0: (48, 48)}
