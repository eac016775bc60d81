"""`stream-sentinel experiments start|status|stop|list` as an operator drives them, embedded."""

from __future__ import annotations

import json
from typing import Any

import pytest

from stream_sentinel.errors import StateError
from stream_sentinel.learning import keys as registry_keys
from stream_sentinel.learning.experiments.store import ExperimentStore
from stream_sentinel.learning.versions import FeatureSet
from stream_sentinel.logic.experiments.sequential import evidence, paired
from stream_sentinel.state.base import Batch, Guard, Outcome, StateStore
from tests.contract.model_registry_contract import draft
from tests.unit.test_models_cli import Desk

pytestmark = pytest.mark.unit


def two_models(desk: Desk) -> tuple[str, str]:
    champion, _ = desk.registry.register(draft(), b"champion-bytes")
    challenger, _ = desk.registry.register(draft(params={"num_leaves": 31}), b"challenger-bytes")
    desk.registry.promote(champion.version, "champion", "first", "test")
    return champion.version, challenger.version


def test_a_shadow_experiment_starts_moves_the_shadow_alias_and_is_listed() -> None:
    desk = Desk()
    champion, challenger = two_models(desk)
    started = desk.run("experiments", "start", "--challenger", challenger[:8], "--actor", "ana")
    assert started.exit_code == 0, started.output
    [experiment] = ExperimentStore(desk.clients.state(), desk.clock).all()
    assert started.output.splitlines() == [
        f"started {experiment.id}: {challenger} against champion {champion}, shadow: the "
        "challenger scores beside the champion",
        f"shadow -> {challenger}; `stream-sentinel experiments status` follows it",
    ]
    assert desk.registry.aliases()["shadow"] == challenger
    assert desk.events()[-1] == ("shadow", 1, challenger)
    listed = desk.run("experiments", "list").output.splitlines()
    assert listed[1].split()[:5] == [
        experiment.id,
        "running",
        "shadow",
        challenger[:14],
        champion[:14],
    ]
    again = desk.run("experiments", "start", "--challenger", challenger)
    assert (again.exit_code, again.output.strip()) == (
        2,
        f"error: experiment {experiment.id} is running; stop it first "
        f"(stream-sentinel experiments stop {experiment.id})",
    )


def test_status_shows_the_arms_the_evidence_and_what_the_rule_would_do() -> None:
    desk = Desk()
    _, challenger = two_models(desk)
    desk.run("experiments", "start", "--challenger", challenger, "--actor", "ana")
    store = ExperimentStore(desk.clients.state(), desk.clock)
    [experiment] = store.all()
    fresh = desk.run("experiments", "status").output
    assert "  evidence: not yet (0 labelled frauds; each arm needs some)" in fresh
    assert "  next: continue (collecting labels)" in fresh
    # 400 frauds: the challenger caught 60 the champion missed, the champion 20 it missed
    counts = {
        "pair:n": 400,
        "pair:sum": 40,
        "pair:squares": 80,
        "0:rows": 50_000,
        "1:rows": 50_000,
        "0:alerts": 1_000,
        "1:alerts": 1_100,
        "0:frauds": 400,
        "0:caught": 280,
        "1:frauds": 400,
        "1:caught": 320,
        "0:flagged": 560,
        "1:flagged": 640,
    }
    store.add_counts(experiment.id, "decision-features:0", 10, counts)
    shown = desk.run("experiments", "status").output.splitlines()
    proof = evidence(paired(400, 40.0, 80.0), 0.05, 0.05)
    low, high = proof.interval
    assert shown[4:6] == [
        "  champion       50000       2.0%         0.0%       -     400   70.0%     50.0%",
        "  challenger     50000       2.2%         0.0%       -     400   80.0%     50.0%",
    ]
    assert shown[6] == (
        f"  evidence: challenger - champion recall +10.0 pts, always-valid interval "
        f"{low * 100:+.1f} to {high * 100:+.1f} pts over 400 labels; log ratio "
        f"{proof.log_ratio:.2f} of 3.00 needed (better)"
    )
    assert shown[7] == "  labels: no transaction has reached its label deadline yet"
    assert shown[8] == (
        f"  next: promote (challenger better: recall +10.0 pts ({low:.2f} to {high:.2f}), "
        "400 labels)"
    )
    as_json = json.loads(desk.run("experiments", "status", experiment.id, "--json").output)
    assert as_json["arms"]["challenger"]["recall"] == 0.8
    assert as_json["evidence"]["verdict"] == "better"
    assert as_json["next"]["action"] == "promote"


def test_stop_ends_the_experiment_and_keeps_the_champion() -> None:
    desk = Desk()
    champion, challenger = two_models(desk)
    desk.run("experiments", "start", "--challenger", challenger)
    [experiment] = ExperimentStore(desk.clients.state(), desk.clock).all()
    desk.clock.advance(60)
    stopped = desk.run(
        "experiments", "stop", experiment.id, "--reason", "wrong data", "--actor", "ana"
    )
    assert stopped.output.strip() == (
        f"{experiment.id}: stopped by ana: wrong data; champion {champion} decides all traffic"
    )
    shown = desk.run("experiments", "status", experiment.id).output.splitlines()
    assert shown[0] == f"experiment {experiment.id}: stopped (stopped by ana: wrong data)"
    assert [line.split()[3] for line in shown[-2:]] == ["stop", "start"]
    again = desk.run("experiments", "stop", experiment.id)
    assert again.output.strip() == f"error: experiment {experiment.id} is not running (stopped)"


@pytest.mark.parametrize(
    ("setup", "args", "message"),
    [
        (
            "none",
            [],
            "error: there is no champion to test against: promote one first "
            "(stream-sentinel models promote VERSION)",
        ),
        (
            "both",
            ["--mode", "split"],
            "error: a split experiment needs the challenger's share, e.g. 0.1",
        ),
        (
            "both",
            ["--share", "0.1"],
            "error: a shadow experiment decides nothing by the challenger, so it takes no "
            "share: add --mode split to decide a share of users by it",
        ),
        ("champion-as-challenger", [], "is the champion: an experiment needs another version"),
        (
            "other-features",
            [],
            "both must read the same features; retrain the challenger on the live feature set",
        ),
    ],
)
def test_a_start_that_cannot_work_is_refused_saying_why(
    setup: str, args: list[str], message: str
) -> None:
    desk = Desk()
    if setup == "none":
        version, _ = desk.registry.register(draft(), b"x")
        target = version.version
    else:
        champion, challenger = two_models(desk)
        target = {"champion-as-challenger": champion}.get(setup, challenger)
        if setup == "other-features":
            other = draft(feature_set=FeatureSet.of("older", ("amount",)))
            target = desk.registry.register(other, b"older-bytes")[0].version
    result = desk.run("experiments", "start", "--challenger", target, *args)
    assert result.exit_code == 2
    assert message in result.output
    assert ExperimentStore(desk.clients.state(), desk.clock).all() == []


class AliasesDown:
    """A store whose alias moves fail (as if Redis went away just then)."""

    def __init__(self, store: StateStore) -> None:
        self._store = store

    def apply_guarded(self, guard: Guard, batch: Batch) -> Outcome:
        if guard.key == registry_keys.ALIAS_SEQ:
            raise StateError("Redis at 127.0.0.1:6379 did not answer")
        return self._store.apply_guarded(guard, batch)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def test_an_experiment_whose_alias_cannot_move_is_stopped_at_once() -> None:
    desk = Desk()
    _, challenger = two_models(desk)
    result = desk.run(
        "experiments", "start", "--challenger", challenger, store=AliasesDown(desk.clients.state())
    )
    assert (result.exit_code, result.output.strip()) == (
        1,
        "error: Redis at 127.0.0.1:6379 did not answer",
    )
    [experiment] = ExperimentStore(desk.clients.state(), desk.clock).all()
    assert (experiment.status, experiment.outcome) == (
        "stopped",
        "the shadow alias could not be moved: Redis at 127.0.0.1:6379 did not answer",
    )
    assert "shadow" not in desk.registry.aliases()
