"""The Drift page on the embedded backends, over DB4 as the drift service itself wrote it.

The rows are the drift service tests' traffic (hours 0-3 the reference, 4-11 windows, 10 and
11 with tripled amounts), read by the service's own loop; a registered champion has rows of
hour 12 only, so it is still building its reference. The figures are those `drift status`
prints for the same run (tests/unit/test_drift_cli.py).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from stream_sentinel.config import load_settings
from stream_sentinel.console.app import create_app
from stream_sentinel.console.drift_view import NEVER_RAN
from stream_sentinel.console.settings import load_console_settings
from stream_sentinel.console.users import UserBook
from stream_sentinel.learning.drift.records import DriftRecords
from stream_sentinel.learning.registry import ModelRegistry
from stream_sentinel.learning.versions import FeatureSet, ModelDraft, TrainingWindow
from stream_sentinel.logic.drift.window import HOUR_MS
from tests.unit.drift_support import START, VERSION, DriftBench
from tests.unit.test_drift_service import run_all, traffic

pytestmark = pytest.mark.unit

DAY = 86_400_000


def _champion(bench: DriftBench) -> str:
    registry = ModelRegistry(bench.clients.state(), bench.clock)
    draft = ModelDraft(
        kind="lightgbm",
        feature_set=FeatureSet.of("live", ("amount",)),
        window=TrainingWindow(
            START - 10 * DAY, START - 2 * DAY, START - 2 * DAY, START, 800, 40, DAY
        ),
        params={},
        metrics={"roc_auc": 0.9},
        bands={"HIGH": 0.5, "CRITICAL": 0.8},
        created_by="train",
    )
    version, _ = registry.register(draft, b"tree\n")
    registry.promote(version.version, "champion", "first model", "cli:ana")
    return version.version


@pytest.fixture(scope="module")
def bench() -> DriftBench:
    bench = DriftBench()
    champion = _champion(bench)
    traffic(bench)
    bench.rows(12, 40, seed=7, version=champion)
    run_all(bench)
    return bench


@pytest.fixture(scope="module")
def client(bench: DriftBench) -> Iterator[TestClient]:
    with _client(bench) as found:
        yield found


def _client(bench: DriftBench) -> TestClient:
    console = load_console_settings({"SENTINEL_CONSOLE_SAMPLE_INTERVAL_S": "0"})
    settings = load_settings("test", environ={})
    app = create_app(bench.clients, settings, console, UserBook(), bench.clock)
    return TestClient(app, base_url="http://127.0.0.1")


def _hour(n: int) -> int:
    return START + n * HOUR_MS


def _drifted(client: TestClient) -> dict:
    [found] = [v for v in client.get("/api/drift").json()["versions"] if v["version"] == VERSION]
    return found


def test_before_drift_ever_ran_the_page_says_so_and_how_to_start_it() -> None:
    with _client(DriftBench()) as client:
        found = client.get("/api/drift").json()
        page = client.get("/drift").text
    assert (found["ran"], found["how_to_start"], found["versions"], found["clock"]) == (
        False,
        NEVER_RAN,
        [],
        None,
    )
    assert "Drift has never run on this stack" in page
    assert "Start it with `stream-sentinel drift run`" in page


def test_the_champion_comes_first_and_says_it_is_building_its_reference(
    bench: DriftBench, client: TestClient
) -> None:
    found = client.get("/api/drift").json()
    champion = ModelRegistry(bench.clients.state()).aliases()["champion"]
    assert [(v["version"], v["champion"], v["aliases"]) for v in found["versions"]] == [
        (champion, True, ["champion"]),
        (VERSION, False, []),
    ]
    first = found["versions"][0]
    assert first["state"] == (
        f"model {champion}: building its reference from 2023-11-15 10:00 to 2023-11-15 14:00 "
        "UTC (40 rows so far)"
    )
    assert (first["latest"], first["history"], first["prediction"]) == ([], [], None)
    assert first["reference"] == {
        "built": False,
        "rows": None,
        "start_ms": _hour(12),
        "end_ms": _hour(16),
        "rows_so_far": 40,
        "next_window_ms": _hour(16),
    }


def test_the_latest_windows_show_every_monitor_alarms_first_then_by_p_value(
    bench: DriftBench, client: TestClient
) -> None:
    version = _drifted(client)
    assert version["reference"]["rows"] == 6000 and version["reference"]["built"] is True
    assert version["windows_checked"] == 8
    assert version["state"] is None
    latest = version["latest"]
    assert [w["start_ms"] for w in latest] == [_hour(h) for h in (11, 10, 9, 8, 7, 6)]
    assert [(w["rows"], w["alarms"], w["retrain_requested"]) for w in latest] == [
        (300, 2, False),
        (300, 2, True),
        *[(300, 0, False)] * 4,
    ]
    newest = latest[0]["values"]
    assert len(newest) == 25
    assert [(v["subject"], round(v["value"], 4), v["alarm"]) for v in newest[:3]] == [
        ("feature[amount]", 1.015, True),
        ("feature[log_amount]", 1.015, True),
        ("feature[small_1h]", 0.0164, False),
    ]
    p_values = [v["p_value"] for v in newest[2:]]
    assert p_values == sorted(p_values)
    # the same numbers `drift status` prints: the check as the service stored it
    [stored] = [
        c for c in DriftRecords(bench.clients.state()).checks() if c.window_start == _hour(11)
    ]
    assert sorted((v["subject"], v["value"], v["threshold"]) for v in newest) == sorted(
        (v.subject, v.value, v.threshold) for v in stored.values
    )


def test_open_alarms_and_the_history_say_which_window_asked_for_a_retrain(
    client: TestClient,
) -> None:
    version = _drifted(client)
    assert [
        (a["subject"], a["statistic"], a["severity"], a["window_start_ms"])
        for a in version["open_alarms"]
    ] == [
        ("feature[amount]", "psi", "critical", _hour(11)),
        ("feature[log_amount]", "psi", "critical", _hour(11)),
    ]
    assert version["history"] == [
        {
            "window_start_ms": _hour(h),
            "detected_ms": _hour(13),
            "alarms": 2,
            "monitors": ["feature"],
            "features": ["amount", "log_amount"],
            "severity": "critical",
            "retrain_requested": h == 10,
        }
        for h in (11, 10)
    ]


def test_prediction_drift_compares_the_latest_window_with_the_reference(
    bench: DriftBench, client: TestClient
) -> None:
    found = _drifted(client)["prediction"]
    reference = DriftRecords(bench.clients.state()).reference(VERSION)
    assert reference is not None
    assert len(found["labels"]) == 20
    assert (found["labels"][0], found["labels"][-1]) == ("(-inf, 0.05]", "(0.95, inf]")
    assert found["reference_shares"] == [c / 6000 for c in reference.score_counts[:20]]
    assert round(sum(found["window_shares"]), 9) == 1.0
    assert [(b["band"], b["threshold"], b["window_alerts"]) for b in found["bands"]] == [
        ("HIGH", 0.5, 0),
        ("CRITICAL", 0.8, 0),
    ]
    assert [b["reference_rate"] for b in found["bands"]] == [
        reference.alert_rate("HIGH"),
        reference.alert_rate("CRITICAL"),
    ]
    assert [m["subject"] for m in found["monitors"]] == [
        "score-distribution",
        "score-ks",
        "alert-rate[CRITICAL]",
        "alert-rate[HIGH]",
    ]


def test_the_psi_series_has_the_top_features_over_every_checked_window(
    client: TestClient,
) -> None:
    series = client.get(f"/api/drift/{VERSION}/series").json()
    assert series["time"] == [_hour(h) // 1000 for h in range(4, 12)]
    assert list(series["features"]) == [
        "amount",
        "log_amount",
        "amount_zscore",
        "mean_7d",
        "seconds_since_last",
    ]
    assert [round(v, 4) for v in series["features"]["amount"][-2:]] == [0.8392, 1.015]
    assert series["alarms"] == [0, 0, 0, 0, 0, 0, 2, 2]


def test_the_group_lag_and_the_clock_are_the_drift_groups(
    bench: DriftBench, client: TestClient
) -> None:
    found = client.get("/api/drift").json()
    group = found["group"]
    assert (group["group"], group["topic"], group["total_lag"]) == (
        "drift-group",
        "decision-features",
        0,
    )
    assert sum(group["committed"].values()) == bench.produced
    assert found["clock"]["clock_ms"] == _hour(13)
    assert [p["idle"] for p in found["clock"]["partitions"]] == [False] * 12


def test_the_page_renders_the_rows_the_chart_and_the_score_histogram(
    client: TestClient,
) -> None:
    page = client.get("/drift").text
    assert page.count('<section class="version"') == 2
    assert f'<div class="chart chart-drift" data-version="{VERSION}"></div>' in page
    assert (
        '<tr class="flagged"><td>feature[amount]</td><td>psi</td>'
        '<td class="num" data-sort="1.0150148910591654">1.0150</td>'
    ) in page
    assert (
        '<tr><td>2023-11-15T08:00:00Z</td><td>2023-11-15T11:00:00Z</td><td class="num">2</td>'
        "<td>feature</td><td>amount, log_amount</td><td>critical</td><td>yes</td></tr>"
    ) in page
    assert page.count("<svg") == 1  # the score histogram of the version that has windows
    assert "building its reference from 2023-11-15 10:00" in page
    assert 'href="/kafka/groups/drift-group"' in page
