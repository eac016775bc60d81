"""`stream-sentinel drift status`, `report` and `evaluate` as a user runs them (embedded)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from stream_sentinel.cli import cli
from stream_sentinel.commands.context import CliContext
from tests.unit.drift_support import DriftBench
from tests.unit.test_drift_service import run_all, traffic

pytestmark = pytest.mark.unit

# fmt: off
# Holm compared the two alarms and small_1h (the first p-value not below its level) with a
# threshold and stopped there: the other monitors have none. The reference's four hours are
# fewer than the calibration needs (12), so the thresholds are the theory's.
STATUS = [
    'model m-0123456789ab: reference 6,000 rows; window 2023-11-15 09:00-10:00 UTC, 300 rows',
    '  monitor                         statistic        value  threshold  alarm',
    '  feature[amount]                 psi             1.0150     0.1120  ALARM',
    '  feature[log_amount]             psi             1.0150     0.1116  ALARM',
    '  feature[channel]                psi             0.0241          -  -',
    '  feature[card_present]           psi             0.0003          -  -',
    '  feature[prev_card_present]      psi             0.0157          -  -',
    '  feature[count_20m]              psi             0.0036          -  -',
    '  feature[count_1h]               psi             0.0051          -  -',
    '  feature[sum_1h]                 psi             0.0193          -  -',
    '  feature[small_1h]               psi             0.0164     0.0479  -',
    '  feature[count_24h]              psi             0.0171          -  -',
    '  feature[sum_24h]                psi             0.0303          -  -',
    '  feature[mean_24h]               psi             0.0302          -  -',
    '  feature[mean_7d]                psi             0.0204          -  -',
    '  feature[mean_30d]               psi             0.0421          -  -',
    '  feature[amount_over_mean]       psi             0.0485          -  -',
    '  feature[amount_zscore]          psi             0.0205          -  -',
    '  feature[seconds_since_last]     psi             0.0582          -  -',
    '  feature[distance_km]            psi             0.0356          -  -',
    '  feature[speed_kmh]              psi             0.0168          -  -',
    '  feature[new_merchant]           psi             0.0175          -  -',
    '  feature[new_device]             psi             0.0075          -  -',
    '  score-distribution              psi             0.0445          -  -',
    '  score-ks                        ks              0.0228          -  -',
    '  alert-rate[HIGH]                binomial_p      1.0000          -  -',
    '  alert-rate[CRITICAL]            binomial_p      1.0000          -  -',
    '  alarms: 4 in 8 windows checked (latest: feature[log_amount] at 2023-11-15 09:00 UTC)',
    'clock: 2023-11-15 11:00 UTC (0 idle)',
    *[f'  partition {p:>3}: 2023-11-15 11:00 UTC' for p in range(12)],
]
# fmt: on


@pytest.fixture(scope="module")
def bench() -> DriftBench:
    bench = DriftBench()
    traffic(bench)
    run_all(bench)
    return bench


def drift(bench: DriftBench, *args: str) -> Result:
    context = CliContext(clients=bench.clients, clock=bench.clock)
    return CliRunner().invoke(cli, ["drift", *args], obj=context)


def test_status_shows_each_monitors_latest_value_against_its_threshold(bench: DriftBench) -> None:
    result = drift(bench, "status")
    assert (result.exit_code, result.output.splitlines()) == (0, STATUS)


def test_status_before_any_row_says_what_to_run() -> None:
    result = drift(DriftBench(), "status")
    assert (result.exit_code, result.output) == (
        0,
        "no drift checks yet: `stream-sentinel drift run` reads decision-features\n",
    )


def test_the_report_is_one_self_contained_html_file_with_a_chart_per_feature_and_monitor(
    bench: DriftBench, tmp_path: Path
) -> None:
    out = tmp_path / "drift.html"
    result = drift(bench, "report", "--since", "2023-11-14T22:00", "--output", str(out))
    html = out.read_text()
    assert (result.exit_code, result.output) == (0, f"wrote {out} ({len(html):,} bytes)\n")
    # 21 watched features (reference beside the period), 25 monitors over time
    assert html.count("<svg") == 21 + 25
    assert html.count("<circle") == 4  # an alarm mark per alarm
    assert "<script" not in html and "src=" not in html and "href=" not in html
    assert set(re.findall(r"https?://[^\"']+", html)) == {"http://www.w3.org/2000/svg"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["report", "--since", "yesterday", "--output", "x.html"],
            "'yesterday' is neither a span back from now (24h, 7d) nor a UTC time",
        ),
        (["report", "--output", "x.txt"], "x.txt should end in .html"),
        (
            ["evaluate", "--scenario", "baseline", "--switch-at", "2 days", "--json", "x"],
            "'2 days' is not a span: give a whole number of minutes, hours or days",
        ),
        (
            [
                "evaluate",
                "--scenario",
                "baseline",
                "--days",
                "3",
                "--switch-at",
                "4d",
                "--json",
                "x",
            ],
            "4d must fall after the reference (24h) and before the end (3d): "
            "e.g. --days 3 --switch-at 2d",
        ),
        (
            ["evaluate", "--scenario", "holiday", "--json", "x"],
            "unknown scenario 'holiday': choose one of baseline, new-pattern, spending-shift, "
            "merchant-wave",
        ),
    ],
)
def test_bad_input_fails_at_once_saying_how_to_fix_it(
    bench: DriftBench, args: list[str], message: str, tmp_path: Path
) -> None:
    result = drift(bench, *args)
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())


def test_evaluate_runs_detect_and_drift_in_event_time_and_writes_the_figures(
    tmp_path: Path,
) -> None:
    out = tmp_path / "shift.json"
    context = CliContext(overrides={"drift": {"reference_hours": 12}})
    args = ["drift", "evaluate", "--scenario", "spending-shift", "--days", "2"]
    args += ["--switch-at", "36h", "--seed", "5", "--users", "800", "--warmup-days", "1"]
    result = CliRunner().invoke(cli, [*args, "--json", str(out)], obj=context)
    assert result.exit_code == 0, result.output
    found = json.loads(out.read_text())
    assert {k: found[k] for k in ("scenario", "days", "switch_at", "windows_checked")} == {
        "scenario": "spending-shift",
        "days": 2,
        "switch_at": 1_699_999_200_000 + 36 * 3_600_000,
        # 48 hours, 12 of them the reference, the last one still open
        "windows_checked": 35,
    }
    assert found["windows_before_switch"] == 24
    amounts = [m for m in found["monitors"] if m["feature"] in ("amount", "log_amount")]
    assert [
        (m["first_alarm_after_switch_s"], m["alarms_after_switch"], m["false_alarms_before_switch"])
        for m in amounts
    ] == [(29665, 2, 0), (29665, 2, 0)]
    assert set(found["monitors"][0]) == {
        "monitor",
        "feature",
        "first_alarm_after_switch_s",
        "alarms_after_switch",
        "false_alarms_before_switch",
        "false_alarms_per_week",
    }


def test_evaluate_defaults_to_a_seed_outside_the_documented_ones() -> None:
    from stream_sentinel.commands.drift import drift as group

    command = group.commands["evaluate"]
    assert [p.default for p in command.params if p.name == "seed"] == [1]


def test_windows_with_several_alarms_count_once_before_and_after_the_switch() -> None:
    from stream_sentinel.backtest.drift_eval import windows_with_an_alarm
    from stream_sentinel.learning.drift.events import DriftEvent

    def alarm(feature: str, hour: int) -> DriftEvent:
        start = hour * 3_600_000
        return DriftEvent(
            f"m:feature:{feature}:{start}", "feature", feature, "psi", 0.5, 0.1, 1e-6,
            1e-3, start, start + 3_600_000, 1000, 100, "warning", "m", start + 3_900_000,
        )  # fmt: skip

    events = [alarm("amount", 1), alarm("log_amount", 1), alarm("channel", 2), alarm("amount", 5)]
    switch = 4 * 3_600_000
    assert windows_with_an_alarm(events, switch, switch, baseline=False) == {
        "windows_with_an_alarm_before_switch": 2,
        "windows_with_an_alarm_after_switch": 1,
    }
    assert windows_with_an_alarm(events, 6 * 3_600_000, switch, baseline=True) == {
        "windows_with_an_alarm_before_switch": 3,
        "windows_with_an_alarm_after_switch": 0,
    }
