"""The experiments service on the embedded backends: each decision and label of the running
experiment counted once, at its label deadline, and the decision rule acted on."""

from __future__ import annotations

import pytest

from stream_sentinel.learning.experiments import keys
from stream_sentinel.learning.models import draft_of
from stream_sentinel.state.base import Batch
from tests.unit.experiments_support import (
    DAY,
    FLAGGED,
    HOUR,
    QUIET,
    START,
    Lab,
    drain,
    label,
    settings_of,
    user_in,
)
from tests.unit.test_model_hot_reload import DAY_MS, model

pytestmark = pytest.mark.unit
AT = START + HOUR  # the decisions' event time: one bucket, settled a day and an hour later


def shadow_traffic(lab: Lab) -> tuple[list[dict], list[dict]]:
    """Decisions and labels of known outcome (see the test below for what each one is)."""
    rows = [
        lab.row("both", AT, FLAGGED, FLAGGED),
        lab.row("champion-only", AT, FLAGGED, QUIET),
        lab.row("challenger-only", AT, QUIET, FLAGGED),
        lab.row("neither", AT, QUIET, QUIET),
        lab.row("overruled", AT, QUIET, FLAGGED),
        lab.row("late", AT, FLAGGED, FLAGGED),
        lab.row("unscored", AT, FLAGGED, None),
        lab.row("legit", AT, QUIET, QUIET),
        lab.row("other-experiment", AT, FLAGGED, QUIET, experiment="exp-other"),
        lab.row("before-start", START - HOUR, FLAGGED, QUIET),
        lab.row("clock", AT + 2 * DAY, QUIET, QUIET),  # moves the event clock past the deadline
    ]
    labels = [
        label("both", AT),
        label("champion-only", AT),
        label("challenger-only", AT),
        label("neither", AT),
        label("overruled", AT, source="ANALYST", after=HOUR),
        label("overruled", AT, value="LEGIT", after=5 * HOUR),  # a chargeback says legit
        label("late", AT, after=2 * DAY),  # after the deadline: not counted
        label("unscored", AT),
        label("legit", AT, value="LEGIT"),
        label("before-start", START - HOUR),
    ]
    return rows, labels


EXPECTED = {
    # traffic: the 8 tagged, scored rows after the start (both models scored each)
    "0:rows": 8.0,
    "1:rows": 8.0,
    "0:alerts": 3.0,  # both, champion-only, late
    "1:alerts": 4.0,  # both, challenger-only, overruled, late
    "unscored:rows": 1.0,
    "untagged:rows": 1.0,  # other-experiment: a detector that had not read this one
    # the four frauds counted at the deadline: paired differences 0, -1, +1, 0
    "0:frauds": 4.0,
    "1:frauds": 4.0,
    "0:caught": 2.0,
    "1:caught": 2.0,
    "pair:n": 4.0,
    "pair:sum": 0.0,
    "pair:squares": 2.0,
    "labels:late": 1.0,
    "unscored:frauds": 1.0,
    # precision's denominators: the settled rows each flagged (unscored ones left out)
    "0:flagged": 3.0,  # both, champion-only, late
    "1:flagged": 4.0,  # both, challenger-only, overruled, late
}


def test_shadow_experiment_counts_each_fraud_once_at_its_deadline() -> None:
    lab = Lab()
    experiment = lab.start()
    rows, labels = shadow_traffic(lab)
    lab.rig.send(rows, labels)
    service = lab.service()
    service.start()
    drain(service)
    counts = lab.store.counts(experiment.id)
    assert counts == EXPECTED
    [point] = lab.store.trail(experiment.id)
    assert (point.labels, point.estimate, point.at_ms) == (4, 0.0, AT - AT % HOUR + HOUR)
    assert service.read_counts() == (9, 8, 4, 0)  # 2 labels skipped: before the start, late
    state = lab.rig.backends.state
    bucket = AT // HOUR
    left = state.execute(
        Batch()
        .exists(keys.NS, keys.rows(experiment.id, bucket))
        .exists(keys.NS, keys.labels(experiment.id, bucket))
    )
    assert left == [0, 0]  # a settled bucket keeps nothing
    assert lab.store.get(experiment.id).running  # 4 frauds: far from a verdict
    service.close()


def test_a_restart_between_decisions_and_labels_counts_nothing_twice() -> None:
    lab = Lab()
    experiment = lab.start()
    rows, labels = shadow_traffic(lab)
    lab.rig.send(rows[:-1], [])  # decisions first, without the clock row
    first = lab.service()
    first.start()
    drain(first)
    first.close()
    lab.rig.send([rows[-1]], labels)
    second = lab.service()
    second.start()
    drain(second)
    second.close()
    third = lab.service()  # reads nothing new: the group committed everything
    third.start()
    drain(third)
    third.close()
    assert lab.store.counts(experiment.id) == EXPECTED
    assert third.read_counts() == (0, 0, 0, 0)


def test_a_label_read_after_its_bucket_was_settled_is_counted_late() -> None:
    lab = Lab()
    experiment = lab.start()
    lab.rig.send(
        [lab.row("a", AT, QUIET, FLAGGED), lab.row("clock", AT + 2 * DAY, QUIET, QUIET)], []
    )
    service = lab.service()
    service.start()
    drain(service)
    lab.rig.send([], [label("a", AT, after=HOUR)])
    drain(service)
    counts = lab.store.counts(experiment.id)
    assert counts.get("1:frauds") is None and counts["labels:late"] == 1.0
    service.close()


def test_split_mode_counts_each_fraud_for_the_arm_that_decided_it() -> None:
    lab = Lab()
    experiment = lab.start("split", 0.5)
    rows = [
        lab.row("c1", AT, FLAGGED, QUIET, arm=0, user=user_in(0, 0)),
        lab.row("c2", AT, QUIET, FLAGGED, arm=0, user=user_in(0, 1)),
        lab.row("x1", AT, QUIET, FLAGGED, arm=1, decision="DECLINE", user=user_in(1, 0)),
        # the challenger had no score: not counted
        lab.row("x2", AT, FLAGGED, None, arm=1, user=user_in(1, 1)),
        # a challenger's user the champion decided (the challenger was loading): neither arm's
        lab.row("x3", AT, FLAGGED, None, arm=0, user=user_in(1, 2)),
        lab.row("clock", AT + 2 * DAY, QUIET, QUIET, user=user_in(0, 2)),
    ]
    lab.rig.send(rows, [label(t, AT) for t in ("c1", "c2", "x1", "x2", "x3")])
    service = lab.service()
    service.start()
    drain(service)
    assert lab.store.counts(experiment.id) == {
        "0:rows": 3.0,  # c1, c2, clock
        "0:alerts": 1.0,
        "1:rows": 1.0,
        "1:alerts": 1.0,
        "1:declines": 1.0,
        "unscored:rows": 2.0,
        "0:frauds": 2.0,
        "0:caught": 1.0,
        "1:frauds": 1.0,
        "1:caught": 1.0,
        "unscored:frauds": 2.0,
        "0:flagged": 1.0,  # c1 (c2 was flagged by the challenger, which did not decide it)
        "1:flagged": 1.0,  # x1
    }
    service.close()


def _decided_lab(challenger_catches: bool, **settings: str) -> tuple[Lab, str]:
    """A shadow experiment with 30 frauds: the champion misses every one, the challenger
    catches every one (``challenger_catches``) or the reverse."""
    lab = Lab(settings_of(min_labels="10", **settings))
    experiment = lab.start()
    ours, theirs = (QUIET, FLAGGED) if challenger_catches else (FLAGGED, QUIET)
    rows = [lab.row(f"f{n}", AT, ours, theirs) for n in range(30)]
    rows.append(lab.row("clock", AT + 2 * DAY, QUIET, QUIET))
    lab.rig.send(rows, [label(f"f{n}", AT) for n in range(30)])
    return lab, experiment.id


def test_a_worse_challenger_is_retired_and_the_registry_records_it() -> None:
    lab, experiment_id = _decided_lab(challenger_catches=False, guard_min_rows="100000")
    service = lab.service()
    service.start()
    drain(service)
    ended = lab.store.get(experiment_id)
    assert ended.status == "retired"
    assert ended.outcome.startswith("challenger worse: recall -100.0 pts")
    assert lab.rig.registry.aliases()["retired"] == lab.challenger_id
    assert lab.rig.registry.aliases()["champion"] == lab.champion_id
    [move] = lab.rig.registry.history("retired")
    assert move.reason.startswith(f"experiment {experiment_id}: challenger worse")
    assert [s.action for s in lab.store.history(experiment_id)] == ["retire", "start"]
    assert [e.id for e in service.ended] == [experiment_id]
    assert lab.store.active() is None
    service.close()


def test_a_better_challenger_is_promoted_under_the_automatic_policy() -> None:
    lab, experiment_id = _decided_lab(
        challenger_catches=True, promotion="automatic", guard_min_rows="100000"
    )
    service = lab.service()
    service.start()
    drain(service)
    assert lab.store.get(experiment_id).status == "promoted"
    assert lab.rig.registry.aliases()["champion"] == lab.challenger_id
    [*_, move] = sorted(lab.rig.registry.history("champion"), key=lambda m: m.seq)
    assert (move.version, move.previous) == (lab.challenger_id, lab.champion_id)
    assert move.actor == "experiments-service"
    service.close()


def test_a_better_challenger_waits_for_an_operator_under_confirm() -> None:
    lab, experiment_id = _decided_lab(challenger_catches=True, guard_min_rows="100000")
    service = lab.service()
    service.start()
    drain(service)
    ended = lab.store.get(experiment_id)
    assert ended.status == "better"
    assert ended.outcome.endswith(
        f"promote it with `stream-sentinel models promote {lab.challenger_id}`"
    )
    assert lab.rig.registry.aliases()["champion"] == lab.champion_id
    service.close()


def test_a_guard_rail_stops_the_experiment_before_any_label() -> None:
    lab = Lab(settings_of(guard_min_rows="20", guard_min_events="5"))
    experiment = lab.start()
    rows = [lab.row(f"r{n}", AT, QUIET if n % 10 else FLAGGED, FLAGGED) for n in range(40)]
    lab.rig.send(rows, [])
    service = lab.service()
    service.start()
    drain(service)
    ended = lab.store.get(experiment.id)
    assert (ended.status, ended.outcome) == (
        "stopped",
        "guard rail: alert rate 100.00% vs 10.00% on the champion: 10.00x, above the limit 2.00x",
    )
    service.close()


def test_an_experiment_whose_champion_moved_stops_saying_so() -> None:
    lab = Lab()
    experiment = lab.start()
    other, _ = lab.rig.registry.register(*draft_of(model(14), DAY_MS))
    lab.rig.registry.promote(other.version, actor="test")
    lab.rig.send([lab.row("a", AT, QUIET, QUIET)], [])
    service = lab.service()
    service.start()
    drain(service)
    ended = lab.store.get(experiment.id)
    assert ended.status == "stopped"
    assert ended.outcome.startswith(f"the champion moved to {other.version} during the experiment")
    service.close()


def test_an_experiment_keeps_the_deadline_it_started_with() -> None:
    lab = Lab()  # the settings say a day
    experiment = lab.start(deadline_ms=2 * HOUR)
    rows = [lab.row("a", AT, QUIET, FLAGGED), lab.row("clock", AT + 4 * HOUR, QUIET, QUIET)]
    lab.rig.send(rows, [label("a", AT, after=HOUR), label("b", AT, after=3 * HOUR)])
    service = lab.service()
    service.start()
    drain(service)
    service.close()
    counts = lab.store.counts(experiment.id)
    # counted four hours on, by its own two-hour deadline; "b" was labelled after it
    assert (counts["1:frauds"], counts["1:caught"], counts["labels:late"]) == (1.0, 1.0, 1.0)


def test_the_latency_guard_rail_reads_the_cost_the_detectors_measured() -> None:
    lab = Lab(settings_of(guard_min_rows="20"))
    experiment = lab.start()
    lab.rig.send([lab.row(f"r{n}", AT, QUIET, QUIET) for n in range(30)], [])
    lab.store.add_cost(experiment.id, {0: (3_000.0, 300), 1: (12_000.0, 300)})
    service = lab.service()
    service.start()
    drain(service)
    service.close()
    ended = lab.store.get(experiment.id)
    assert (ended.status, ended.outcome) == (
        "stopped",
        "guard rail: latency 40.0 us/row vs 10.0 us/row on the champion: 4.00x, above the "
        "limit 3.00x",
    )
