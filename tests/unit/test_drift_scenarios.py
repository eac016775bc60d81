"""A first measurement on the generator's drift scenarios, offline: simulate, replay the live
feature code, profile days 2-5, check every event-time hour of days 5-8 (switch at day 6).

No model is involved (scores are all 0, so the prediction monitors are silent); this measures
the feature monitors only. Counts of hours, printed with ``-s``; see docs/drift.md.
"""

from __future__ import annotations

import numpy as np
import pytest

from stream_sentinel.generator import SimulationConfig, Simulator
from stream_sentinel.logic.drift.monitors import check_window
from stream_sentinel.logic.drift.reference import build_reference
from stream_sentinel.logic.drift.window import hourly_windows
from stream_sentinel.logic.features import FEATURES
from stream_sentinel.logic.offline import OfflineReplay
from stream_sentinel.wire.records import to_dict

pytestmark = pytest.mark.unit

DAY_MS = 86_400_000
START = 1_699_999_200_000  # on the hour, so hours and days line up with the switch
SWITCH = START + 6 * DAY_MS
END = START + 8 * DAY_MS
#: Features that keep growing while a simulation that started cold fills its 7- and 30-day
#: windows and per-user hour histograms: they drift in every scenario, baseline included.
WARMING_UP = {
    "history_count",
    "count_7d",
    "sum_7d",
    "count_30d",
    "sum_30d",
    "hour_share",
    "merchant_volume_1d",
    "merchant_volume_7d",
    "merchant_volume_30d",
    "merchant_fraud_7d",
    "merchant_fraud_30d",
    "merchant_fraud_rate_7d",
    "merchant_fraud_rate_30d",
}


def hourly_alarms(scenario: str) -> tuple[dict[str, int], dict[str, int], int, int]:
    """Per feature, the hours before and after the switch in which it alarmed, and how many
    hours there were of each."""
    config = SimulationConfig(
        users=3000,
        fraud_rate=0.01,
        scenario=scenario,
        start_ms=START,
        switch_at_ms=SWITCH,
        end_ms=END,
    )
    simulator = Simulator(config, seed=3)
    batch = simulator.next_batch(200_000).sorted_by_time()
    records = [to_dict(tx) for tx in simulator.transactions(batch)]
    replayed = OfflineReplay(DAY_MS).run(records, batch.is_fraud.astype(int).tolist())
    ts, rows = replayed.timestamps, replayed.features
    profiled = (ts >= START + 2 * DAY_MS) & (ts < START + 5 * DAY_MS)
    reference = build_reference(scenario, rows[profiled], np.zeros(profiled.sum()), {})
    checked = ts >= START + 5 * DAY_MS
    windows = hourly_windows(reference, ts[checked], rows[checked], np.zeros(checked.sum()))
    before, after = dict.fromkeys(FEATURES, 0), dict.fromkeys(FEATURES, 0)
    hours_before = hours_after = 0
    for start, window in windows.items():
        counted = after if start >= SWITCH else before
        hours_after += start >= SWITCH
        hours_before += start < SWITCH
        for alarm in check_window(reference, window):
            assert alarm.feature is not None
            counted[alarm.feature] += 1
    return before, after, hours_before, hours_after


@pytest.fixture(scope="module")
def baseline() -> tuple[dict[str, int], dict[str, int], int, int]:
    return hourly_alarms("baseline")


@pytest.fixture(scope="module")
def spending_shift() -> tuple[dict[str, int], dict[str, int], int, int]:
    return hourly_alarms("spending-shift")


def test_a_spending_shift_alarms_on_amounts_in_every_hour_after_the_switch_only(
    spending_shift: tuple[dict[str, int], dict[str, int], int, int],
) -> None:
    before, after, hours_before, hours_after = spending_shift
    print({f: (before[f], after[f]) for f in FEATURES}, hours_before, hours_after)
    assert (hours_before, hours_after) == (24, 48)
    for feature in ("amount", "log_amount"):
        assert (before[feature], after[feature]) == (0, 48)


def test_the_baseline_leaves_amounts_alone(
    baseline: tuple[dict[str, int], dict[str, int], int, int],
) -> None:
    before, after, hours_before, hours_after = baseline
    print({f: (before[f], after[f]) for f in FEATURES}, hours_before, hours_after)
    assert before["amount"] + after["amount"] <= 0.05 * (hours_before + hours_after)


def test_features_still_warming_up_alarm_in_nearly_every_hour_of_the_baseline(
    baseline: tuple[dict[str, int], dict[str, int], int, int],
) -> None:
    # a limit of this measurement, not of the monitors: the simulation starts cold
    before, after, hours_before, hours_after = baseline
    hours = hours_before + hours_after
    mostly = {f for f in FEATURES if before[f] + after[f] >= 0.9 * hours}
    assert mostly == WARMING_UP


@pytest.mark.parametrize("scenario", ["merchant-wave", "new-pattern"])
def test_a_change_in_the_fraud_mix_alone_moves_no_feature_beyond_the_baselines_alarms(
    scenario: str, baseline: tuple[dict[str, int], dict[str, int], int, int]
) -> None:
    # fraud is 1% of traffic: these scenarios are for the labelled and prediction monitors
    _, after, _, hours_after = hourly_alarms(scenario)
    _, baseline_after, _, _ = baseline
    print(scenario, {f: after[f] for f in FEATURES})
    frequent = {f for f in FEATURES if after[f] > 0.5 * hours_after}
    assert frequent == {f for f in FEATURES if baseline_after[f] > 0.5 * hours_after}
    assert after["amount"] <= 0.05 * hours_after
