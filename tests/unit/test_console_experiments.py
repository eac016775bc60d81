"""The Experiments pages on the embedded store: experiments written through ExperimentStore,
their evidence trail as the experiments service writes it (LPUSH on the trail key), and the
figures judged by the same rule `experiments status` uses.

Two experiments: a shadow one stopped by its alert-rate guard rail, then a running 50% split
whose arms decided 10,000 rows each (champion: 200 alerts, 50 declines, 120 of 200 labelled
frauds caught; challenger: 300, 60, 150 of 200). Its recall difference is +15 points with the
always-valid interval -1.4 to +31.4 points (two_sample with alpha 0.05 and tau 0.05), not yet
a verdict: log ratio 2.4435 of log(20) = 2.9957, about 456 labels if it holds.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass

import pytest
from fastapi.testclient import TestClient

from stream_sentinel.clients.backends import EmbeddedClients
from stream_sentinel.clock import ManualClock
from stream_sentinel.config import load_settings
from stream_sentinel.console.app import create_app
from stream_sentinel.console.experiments_chart import trail_chart
from stream_sentinel.console.experiments_view import (
    HOW_TO_START,
    list_experiments,
    projected_text,
    rule_and_limits,
    show_experiment,
    unknown,
)
from stream_sentinel.console.settings import load_console_settings
from stream_sentinel.console.sources import ConsoleSources
from stream_sentinel.console.users import UserBook
from stream_sentinel.learning.experiments import keys
from stream_sentinel.learning.experiments.store import ExperimentStore
from stream_sentinel.logic.experiments.definition import Experiment, Point
from stream_sentinel.logic.experiments.guardrails import Limits
from stream_sentinel.logic.experiments.rule import Rule
from stream_sentinel.logic.experiments.sequential import Evidence
from stream_sentinel.state.base import Batch, StateStore

pytestmark = pytest.mark.unit

T0 = 1_700_000_000_000
HOUR = 3_600_000
BREACH = "alert rate 9.00% vs 2.00% on the champion: 4.50x, above the limit 2.00x"
SPLIT_COUNTS = {
    **{"0:rows": 10_000, "0:alerts": 200, "0:declines": 50, "0:scoring_us": 40_000},
    **{"0:frauds": 200, "0:caught": 120, "0:flagged": 160},
    **{"1:rows": 10_000, "1:alerts": 300, "1:declines": 60, "1:scoring_us": 50_000},
    **{"1:frauds": 200, "1:caught": 150, "1:flagged": 250},
}
#: (labels, estimate, low, high, log ratio): unbounded at first, then narrowing
TRAIL = [(40, 0.1, None, None, 0.0), (200, 0.12, -0.05, 0.29, 0.8), (400, 0.15, 0.05, 0.25, 2.4)]
THRESHOLD = 2.995732


@dataclass
class Rig:
    clients: EmbeddedClients
    clock: ManualClock

    @property
    def sources(self) -> ConsoleSources:
        return ConsoleSources(self.clients, load_settings("test", environ={}), self.clock)

    def client(self) -> TestClient:
        console = load_console_settings({"SENTINEL_CONSOLE_SAMPLE_INTERVAL_S": "0"})
        settings = load_settings("test", environ={})
        app = create_app(self.clients, settings, console, UserBook(), self.clock)
        return TestClient(app, base_url="http://127.0.0.1")


def _rig() -> Rig:
    clock = ManualClock(T0)
    return Rig(EmbeddedClients(clock), clock)


def _stopped_shadow(store: ExperimentStore, clock: ManualClock) -> None:
    shadow = Experiment.new("exp-shadow", "shadow", "m-champ", "m-wild", None, T0, "cli:bo", "")
    store.start(shadow)
    traffic = {"0:rows": 10_000, "0:alerts": 200, "1:rows": 10_000, "1:alerts": 900}
    store.add_counts(shadow.id, "fraud-scores:0", 100, traffic)
    clock.set(T0 + HOUR)
    store.end(shadow.id, "stopped", f"guard rail: {BREACH}", "experiments service")


def running_split(state: StateStore, store: ExperimentStore) -> None:
    """The running split of the figures above (the browser test writes it to real Redis)."""
    start = T0 + 2 * HOUR
    split = Experiment.new(
        "exp-split", "split", "m-champ", "m-chall", 0.5, start, "cli:ana", "retrained on May"
    )
    store.start(split)
    store.add_counts(split.id, "fraud-scores:0", 500, SPLIT_COUNTS)
    trail = Batch()
    for i, (labels, estimate, low, high, ratio) in enumerate(TRAIL):  # oldest pushed first
        point = Point(start + (i + 1) * HOUR, labels, estimate, low, high, ratio, THRESHOLD)
        trail.lpush(keys.NS, keys.evidence(split.id), point.encode())
    state.execute(trail)


@pytest.fixture(scope="module")
def rig() -> Rig:
    rig = _rig()
    store = ExperimentStore(rig.clients.state(), rig.clock)
    _stopped_shadow(store, rig.clock)
    running_split(rig.clients.state(), store)
    rig.clock.set(T0 + 26 * HOUR)
    return rig


@pytest.fixture(scope="module")
def client(rig: Rig) -> Iterator[TestClient]:
    with rig.client() as found:
        yield found


def test_the_list_is_newest_first_and_names_the_running_one(rig: Rig, client: TestClient) -> None:
    found = list_experiments(rig.sources)
    assert found["running"] == "exp-split"
    assert found["experiments"] == [
        {
            "id": "exp-split",
            "status": "running",
            "running": True,
            "mode": "split",
            "share": 0.5,
            "challenger": "m-chall",
            "champion": "m-champ",
            "started": T0 + 2 * HOUR,
            "ended": None,
            "outcome": "",
        },
        {
            "id": "exp-shadow",
            "status": "stopped",
            "running": False,
            "mode": "shadow",
            "share": 0.0,
            "challenger": "m-wild",
            "champion": "m-champ",
            "started": T0,
            "ended": T0 + HOUR,
            "outcome": f"guard rail: {BREACH}",
        },
    ]
    page = client.get("/experiments").text
    assert page.count('<tr class="running">') == 1
    assert '<tr class="running">\n  <td><a href="/experiments/exp-split">exp-split</a></td>' in page
    assert "<td>split (50% challenger)</td>" in page
    assert "<td>2023-11-14T22:13:20Z</td>" in page  # exp-shadow started T0
    assert client.get("/api/experiments").json() == found


def test_with_no_experiment_the_list_says_how_to_start_one() -> None:
    rig = _rig()
    assert list_experiments(rig.sources)["experiments"] == []
    with rig.client() as client:
        page = client.get("/experiments").text
    assert HOW_TO_START in page
    assert "`stream-sentinel experiments start --challenger VERSION`" in page
    assert 'id="running"' not in page


def test_each_arm_shows_its_rates_frauds_and_recall(rig: Rig, client: TestClient) -> None:
    found = show_experiment(rig.sources, "exp-split")
    assert found is not None
    assert found["counting"] == "labels: no transaction has reached its label deadline yet"
    assert found["arm_rows"] == [
        {
            "arm": "champion",
            "version": "m-champ",
            "rows": 10_000,
            "alerts": 200,
            "alert_rate": 0.02,
            "declines": 50,
            "decline_rate": 0.005,
            "us_per_row": 4.0,
            "frauds": 200,
            "caught": 120,
            "recall": 0.6,
            "flagged": 160,
            "precision": 0.75,
        },
        {
            "arm": "challenger",
            "version": "m-chall",
            "rows": 10_000,
            "alerts": 300,
            "alert_rate": 0.03,
            "declines": 60,
            "decline_rate": 0.006,
            "us_per_row": 5.0,
            "frauds": 200,
            "caught": 150,
            "recall": 0.75,
            "flagged": 250,
            "precision": 0.6,
        },
    ]
    page = client.get("/experiments/exp-split").text
    cells = "\n  ".join(['<td class="num">{}</td>'] * 7)
    assert cells.format("10,000", "2.00%", "0.50%", "4.0", "200", "120", "60.00%") in page
    assert cells.format("10,000", "3.00%", "0.60%", "5.0", "200", "150", "75.00%") in page


def test_the_evidence_is_in_recall_points_with_its_always_valid_interval(
    rig: Rig, client: TestClient
) -> None:
    found = show_experiment(rig.sources, "exp-split")
    assert found is not None
    shown = found["shown_evidence"]
    assert (round(shown["estimate_pts"], 9), shown["labels"], shown["verdict"]) == (
        15.0,
        400,
        "undecided",
    )
    assert shown["interval_text"] == "-1.4 to +31.4 pts"
    assert (round(shown["log_ratio"], 4), round(shown["threshold"], 4)) == (2.4435, 2.9957)
    assert shown["projected_text"] == "about 456 in all (56 more), if the difference holds"
    assert [round(x, 4) for x in found["evidence"]["interval"]] == [-0.014, 0.314]
    assert found["next"] == {"action": "continue", "reason": "collecting labels"}
    assert found["breaches"] == []
    page = client.get("/experiments/exp-split").text
    assert "<td>+15.0 pts over 400 labels</td>" in page
    assert '<td id="interval">-1.4 to +31.4 pts</td>' in page
    assert "<td>2.44 of 3.00 needed</td>" in page
    assert '<p id="next"><strong>continue</strong>: collecting labels</p>' in page
    assert "<th>always-valid interval (95%)</th>" in page


def test_the_labels_to_a_verdict_say_why_there_is_no_projection() -> None:
    decided = Evidence(900, 0.06, (0.01, 0.11), 3.2, 3.0, "better")
    level = Evidence(300, 0.0, (-0.1, 0.1), -1.0, 3.0, "undecided")
    assert projected_text(decided, None, 20_000) == "none: the test reached its verdict (better)"
    assert projected_text(level, None, 20_000) == "not within 20,000 labels at this difference"


def test_a_breached_guard_rail_is_a_sentence_and_an_ended_one_has_no_next_step(
    rig: Rig, client: TestClient
) -> None:
    found = show_experiment(rig.sources, "exp-shadow")
    assert found is not None
    assert found["breaches"] == [BREACH]
    assert found["shown_evidence"]["interval_text"] == (
        "not yet: 0 labelled frauds, and each arm needs some"
    )
    assert found["shown_evidence"]["projected_text"] == (
        "not yet: too few labelled frauds to project"
    )
    assert [(s["action"], s["detail"], s["actor"]) for s in found["history"]] == [
        ("stop", f"guard rail: {BREACH}", "experiments service"),
        (
            "start",
            "m-wild against champion m-champ, shadow: the challenger scores beside the champion",
            "cli:bo",
        ),
    ]
    assert found["trail"] == []
    page = client.get("/experiments/exp-shadow").text
    assert f'<li class="problem">{BREACH}</li>' in page
    assert 'id="next"' not in page
    assert "<td>2023-11-14T23:13:20Z</td>" in page  # ended an hour after T0
    assert "none: the challenger scores beside the champion and decides no user" in page
    assert "No evidence recorded yet" in page and "<svg" not in page


def test_the_trail_is_read_oldest_first_and_drawn_as_svg(rig: Rig, client: TestClient) -> None:
    found = show_experiment(rig.sources, "exp-split")
    assert found is not None
    start = T0 + 2 * HOUR
    assert found["trail"] == [
        {
            "at_ms": start + (i + 1) * HOUR,
            "labels": labels,
            "estimate": estimate,
            "low": low,
            "high": high,
            "log_ratio": ratio,
            "threshold": THRESHOLD,
        }
        for i, (labels, estimate, low, high, ratio) in enumerate(TRAIL)
    ]
    chart = trail_chart(found["trail"])
    assert chart is not None
    assert chart.count("<polyline") == 2  # the estimate, the log ratio
    assert chart.count("<polygon") == 1  # the band of the two bounded points
    page = client.get("/experiments/exp-split").text
    assert page.count("<svg") == 1 and chart in page
    assert "3 settlement(s), event time" in page


def test_the_chart_places_each_point_by_event_time_and_value() -> None:
    points = [
        asdict(Point(0, 2, 0.0, -0.5, 0.5, 0.0, 3.0)),
        asdict(Point(1_000, 9, 0.5, None, None, 3.0, 3.0)),
        asdict(Point(4_000, 9, 0.25, 0.0, 0.5, 3.3, 3.0)),
    ]
    chart = trail_chart(points)
    assert chart is not None
    # x: 48 + 544 * t / 4000; top panel from -50 (y 174) to +50 pts (y 24)
    assert '<polyline points="48.0,99.0 184.0,24.0 592.0,61.5"' in chart
    # two bands: the unbounded middle point splits them
    assert '<polygon points="48.0,24.0 48.0,174.0"' in chart
    assert '<polygon points="592.0,24.0 592.0,99.0"' in chart
    # bottom panel from 0 (y 354) to 3.3 * 1.1 = 3.63 (y 204); the threshold at 3.0
    assert '<line x1="48" y1="230.0" x2="592" y2="230.0" stroke="#c62828"' in chart
    assert trail_chart([]) is None


def test_an_unknown_experiment_is_a_404_that_says_where_the_list_is(client: TestClient) -> None:
    message = unknown("exp-nope")
    assert message == (
        "No experiment 'exp-nope' in DB5 (experiments): the Experiments page lists every one "
        "(`stream-sentinel experiments list`)."
    )
    page = client.get("/experiments/exp-nope")
    assert page.status_code == 404
    assert "<h1>No such experiment</h1>" in page.text
    assert "No experiment &#39;exp-nope&#39; in DB5" in page.text
    reply = client.get("/api/experiments/exp-nope")
    assert (reply.status_code, reply.json()) == (404, {"error": message})


def test_the_api_is_the_data_the_page_draws(rig: Rig, client: TestClient) -> None:
    found = show_experiment(rig.sources, "exp-split")
    assert client.get("/api/experiments/exp-split").json() == json.loads(json.dumps(found))


def test_the_rule_and_guard_rails_come_from_the_experiments_settings() -> None:
    environ = {
        "SENTINEL_EXPERIMENTS_ALPHA": "0.01",
        "SENTINEL_EXPERIMENTS_MDE": "0.03",
        "SENTINEL_EXPERIMENTS_MIN_LABELS": "50",
        "SENTINEL_EXPERIMENTS_MAX_LABELS": "5000",
        "SENTINEL_EXPERIMENTS_MAX_DAYS": "30",
        "SENTINEL_EXPERIMENTS_MAX_ALERT_RATE_RATIO": "1.5",
        "SENTINEL_EXPERIMENTS_MAX_DECLINE_RATE_RATIO": "1.8",
        "SENTINEL_EXPERIMENTS_MAX_LATENCY_RATIO": "4",
        "SENTINEL_EXPERIMENTS_GUARD_MIN_ROWS": "500",
        "SENTINEL_EXPERIMENTS_GUARD_MIN_EVENTS": "5",
    }
    settings = load_settings("test", environ=environ).experiments
    assert rule_and_limits(settings) == (
        Rule(0.01, 0.03, 50, 5000, 30.0),
        Limits(1.5, 1.8, 4.0, 500, 5),
    )
