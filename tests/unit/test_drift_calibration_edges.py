"""The calibration's edges found in review: windows larger than the reference hours (thinned by
the per-hour cap), KS on its own scale, a burst hour or a non-finite statistic, too few hours or
a phi at or below 1, and thresholds where the p-values underflow."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import numpy as np
import pytest
from scipy import stats

from stream_sentinel.learning.drift.handler import _json
from stream_sentinel.logic.drift.calibration import calibrated_reference, calibration, capped
from stream_sentinel.logic.drift.dispersion import (
    KS_MEAN,
    Dispersion,
    calibrated_critical,
    calibrated_p_value,
    estimate_dispersion,
)
from stream_sentinel.logic.drift.monitors import check_window, findings, raw_findings
from stream_sentinel.logic.drift.reference import Reference, build_reference
from stream_sentinel.logic.drift.synthetic import PATTERNED_FEATURES, patterned_traffic
from stream_sentinel.logic.drift.thresholds import psi_scale
from stream_sentinel.logic.drift.window import HOUR_MS, WindowCounts, hourly_windows

pytestmark = pytest.mark.unit

BANDS = {"HIGH": 0.2}


def test_phi_is_scaled_up_to_a_window_larger_than_the_reference_hours_never_down() -> None:
    d = Dispersion(4.0, 24, 24, 100.0)
    assert (d.at(400), d.at(100), d.at(50)) == (13.0, 4.0, 4.0)
    assert Dispersion(4.0, 24, 24).at(400) == 4.0  # stored before the rows were: as measured


def unscaled(reference: Reference) -> Reference:
    # the reference's dispersions as the first version applied them: at every window's size
    return replace(
        reference, calibration={s: replace(d, rows=0.0) for s, d in reference.calibration.items()}
    )


def test_a_reference_thinned_per_hour_is_applied_to_full_windows_at_their_size() -> None:
    # the per-hour cap keeps a quarter of each reference hour; the live windows are whole
    alarms = {"scaled": 0, "unscaled": 0, "windows": 0}
    for seed in np.random.SeedSequence(9).spawn(2):
        ts, rows, scores = patterned_traffic(np.random.default_rng(seed), days=3)
        day0 = ts < 24 * HOUR_MS
        keep = day0 & (np.random.default_rng(1).random(len(ts)) < 0.25)
        thin = calibrated_reference(
            "v1", rows[keep], scores[keep], ts[keep], BANDS, PATTERNED_FEATURES
        )
        assert thin.calibration["feature[amount]"].rows == pytest.approx(keep.sum() / 24)
        later = ~day0
        windows = hourly_windows(thin, ts[later], rows[later], scores[later], PATTERNED_FEATURES)
        for window in windows.values():
            alarms["windows"] += 1
            alarms["scaled"] += bool(check_window(thin, window, 0.05))
            alarms["unscaled"] += bool(check_window(unscaled(thin), window, 0.05))
    # at alpha 0.05 over 96 unchanged windows: still above alpha (the night hours, docs), but
    # less than half of the first version's
    assert alarms == {"scaled": 26, "unscaled": 61, "windows": 96}


def test_ks_is_calibrated_on_its_own_scale() -> None:
    # hours whose n D^2 is 4 times the Kolmogorov square: the factor is 4 and a fresh draw's
    # calibrated p-value falls below a level as often as the level says
    rng = np.random.default_rng(3)
    hours = 4.0 * stats.kstwobign.rvs(size=24_000, random_state=rng) ** 2 / KS_MEAN
    d = estimate_dispersion(hours.tolist(), [1] * len(hours), 100.0)
    assert d is not None
    assert d.factor == pytest.approx(4.0, rel=0.02)
    fresh = 4.0 * stats.kstwobign.rvs(size=200_000, random_state=rng) ** 2 / KS_MEAN
    p = np.array([calibrated_p_value(x, 1, d, 100, "ks") for x in fresh[:20_000]])
    assert int((p < 0.01).sum()) == 189  # 200 expected

    # the first version: KS's p-value as a 1-df chi-square, scaled by that scale's mean
    def as_chi2(x: np.ndarray) -> np.ndarray:
        return stats.chi2.isf(stats.kstwobign.sf(np.sqrt(x * KS_MEAN)), 1)

    phi = float(as_chi2(hours).mean())
    first = stats.f.sf(as_chi2(fresh[:20_000]) / phi, 1, len(hours))
    assert int((first < 0.01).sum()) == 10  # twenty times too strict: the scale is not KS's


def test_the_score_ks_finding_is_n_d_squared_over_its_null_mean() -> None:
    ts, rows, scores = patterned_traffic(np.random.default_rng(5), days=2)
    day0 = ts < 24 * HOUR_MS
    reference = calibrated_reference(
        "v1", rows[day0], scores[day0], ts[day0], BANDS, PATTERNED_FEATURES
    )
    window = next(
        iter(
            hourly_windows(
                reference, ts[~day0], rows[~day0], scores[~day0], PATTERNED_FEATURES
            ).values()
        )
    )
    [raw] = [f for f in raw_findings(reference, window, 0.05) if f.subject == "score-ks"]
    [ks] = [f for f in findings(reference, window, 0.05) if f.subject == "score-ks"]
    effective = round(reference.size * window.size / (reference.size + window.size))
    assert raw.chi2 == pytest.approx(effective * raw.value**2 / KS_MEAN, rel=1e-12)
    c = reference.calibration["score-ks"].at(window.size)
    assert ks.p_value == pytest.approx(
        stats.kstwobign.sf(raw.value * math.sqrt(effective / c)), rel=1e-9
    )
    assert ks.critical(0.001) == pytest.approx(
        stats.kstwobign.isf(0.001) * math.sqrt(c / effective), rel=1e-9
    )


def test_a_non_finite_statistic_or_dispersion_is_rejected() -> None:
    assert estimate_dispersion([math.inf, 1.0, 1.0], [1, 1, 1]) is None
    assert estimate_dispersion([math.nan, 1.0, 1.0], [1, 1, 1]) is None
    with pytest.raises(ValueError, match="a dispersion must be finite, not inf"):
        Dispersion(math.inf, 24, 24, 100.0)
    with pytest.raises(ValueError, match="a dispersion must be finite, not nan"):
        Dispersion.from_json({"factor": math.nan, "dof": 24, "hours": 24, "rows": 100.0})
    with pytest.raises(ValueError, match="Out of range float values are not JSON compliant"):
        _json({"factor": math.nan})


def test_a_burst_hour_is_capped_at_a_far_quantile_of_the_other_hours_spread() -> None:
    hours = [math.inf] + [1.0] * 23
    spread = 1.0 / stats.chi2.median(1)  # every other hour at 1 against the median 0.455
    assert capped(hours, [1] * 24, "chi2") == [stats.chi2.isf(1e-6, 1) * spread] + [1.0] * 23
    # a monitor whose every hour is wide keeps them: the cap scales with the hours' spread
    wide = [40.0, 50.0, 60.0, 55.0]
    assert capped(wide, [9] * 4, "chi2") == wide


def burst_reference() -> Reference:
    # 24 hours of 500 payments with 1% alerted, one hour of 2000 with half of them alerted:
    # its exact binomial p-value underflows to 0 (a chi-square of infinity, uncapped)
    rng = np.random.default_rng(11)
    sizes = [2000] + [500] * 23
    ts = np.concatenate([np.full(n, h * HOUR_MS) for h, n in enumerate(sizes)])
    share = np.where(np.arange(len(ts)) < 2000, 0.5, 0.01)
    scores = np.where(rng.random(len(ts)) < share, 0.9, 0.05)
    channel = rng.integers(0, 3, len(ts)).astype(np.float64)[:, None]
    reference = build_reference("v1", channel, scores, BANDS, ("channel",))
    return replace(reference, calibration=calibration(reference, channel, scores, ts, ("channel",)))


def test_a_burst_hour_leaves_the_alert_rate_dispersion_finite_but_wide() -> None:
    reference = burst_reference()
    d = reference.calibration["alert-rate[HIGH]"]
    # finite (uncapped: infinite, the monitor off for the model's life), and large: the burst
    # is in the rest every other hour is compared with, so every hour looks unusual
    assert d.factor == pytest.approx(164.25, abs=0.01)
    json.loads(_json(reference.to_json()))  # and it can be stored
    # a window at 50% alerts (the reference's rate 8%): the other monitors alarm; the alert
    # rate's p-value is a number below 1 (uncapped: 1 forever), but not below its level
    # (a known limit, docs/drift.md)
    rng = np.random.default_rng(12)
    window = WindowCounts.empty(reference, 30 * HOUR_MS, 31 * HOUR_MS)
    scores = np.where(rng.random(500) < 0.5, 0.9, 0.05)
    window = window.added(
        reference, rng.integers(0, 3, 500).astype(np.float64)[:, None], scores, ("channel",)
    )
    alarms = [(a.monitor, a.feature) for a in check_window(reference, window, 0.005)]
    assert alarms == [("score-ks", None), ("estimated-precision", "HIGH")]
    [rate] = [f for f in findings(reference, window, 0.005) if f.subject == "alert-rate[HIGH]"]
    assert rate.p_value == pytest.approx(0.1117, abs=1e-4)


def channel_reference(calibrated: Dispersion) -> tuple[Reference, WindowCounts]:
    # 9000 payments on channel 0 and 1000 on 1; the window's 1000 all on channel 1
    channel = np.array([0.0] * 9000 + [1.0] * 1000)[:, None]
    reference = build_reference("v1", channel, np.full(10_000, 0.01), {}, ("channel",))
    reference = replace(reference, calibration={"feature[channel]": calibrated})
    window = WindowCounts.empty(reference, 0, HOUR_MS)
    window = window.added(reference, np.ones((1000, 1)), np.full(1000, 0.01), ("channel",))
    return reference, window


@pytest.mark.parametrize(
    "measured",
    [Dispersion(0.6, 24, 24, 1000.0), Dispersion(5.0, 11, 11, 1000.0)],
    ids=["phi below 1", "11 hours"],
)
def test_the_theory_is_kept_at_phi_below_one_or_on_too_few_hours(measured: Dispersion) -> None:
    reference, window = channel_reference(measured)
    [raw] = [f for f in raw_findings(reference, window, 0.05) if f.subject == "feature[channel]"]
    [found] = [f for f in findings(reference, window, 0.05) if f.subject == "feature[channel]"]
    assert (found.p_value, found.critical(0.001)) == (raw.p_value, raw.critical(0.001))


def test_a_threshold_at_phi_200_on_one_degree_of_freedom_is_finite_and_below_the_value() -> None:
    measured = Dispersion(200.0, 24, 24, 1000.0)
    reference, window = channel_reference(measured)
    [alarm] = [a for a in check_window(reference, window, 0.005) if a.feature == "channel"]
    needed = calibrated_critical(alarm.level, 1, measured, 1000) * psi_scale(1000, 10_000)
    assert alarm.threshold == pytest.approx(needed, rel=1e-12)
    assert math.isfinite(alarm.threshold)
    assert alarm.value > alarm.threshold
