"""The online model in the learner: which rows it learns and when (the label delay, exactly once
across restarts and crashes), and the snapshot a retrain registers as a ``river-logreg``
version under the promotion policy, on the embedded backends."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from typing import Any

import pytest

from stream_sentinel.learning.labels import SourcedLabel
from stream_sentinel.learning.learner.online import ONLINE, OnlineLearning
from stream_sentinel.learning.learner.online_plan import Position, plan
from stream_sentinel.learning.learner.rows import LoggedRow
from stream_sentinel.learning.learner.status import _time, read_status, status_lines
from stream_sentinel.learning.learner.store import NS
from stream_sentinel.learning.learner.trainingset import kept_by_sample
from stream_sentinel.learning.models import load_model
from stream_sentinel.learning.retrain_requests import request_retrain
from stream_sentinel.logic.features import FEATURES
from stream_sentinel.scoring.online_artifact import OnlineArtifact
from stream_sentinel.state.base import Batch
from tests.unit.learner_support import DAY, HOUR, SETTINGS, T0, Rig, traffic

pytestmark = pytest.mark.unit
ONLINE_SETTINGS = SETTINGS.model_copy(update={"learner": "online"})


def row(tx: str, event_time: int, feature_set_hash: str | None = None) -> LoggedRow:
    found = LoggedRow(tx, "u1", event_time, event_time + 5, (0.5,) * len(FEATURES))
    return found if feature_set_hash is None else replace(found, feature_set_hash=feature_set_hash)


def label(event_time: int, value: str, label_time: int, source: str = "CHARGEBACK") -> SourcedLabel:
    return SourcedLabel(source, value, event_time, label_time)


def planned(
    rows: list[LoggedRow],
    labels: dict[str, list[SourcedLabel]],
    at: Position,
    now: int,
    keep: int = 1,
) -> tuple[list[tuple[str, bool, int]], Position]:
    found = plan({r.transaction_id: r for r in rows}, labels, at, now, DAY, keep)
    return [(s.row.transaction_id, s.fraud, s.weight) for s in found.steps], found.position


def test_a_row_is_learned_when_its_label_is_known_or_as_legitimate_once_past_the_delay() -> None:
    rows = [row("old", T0), row("young", T0 + 2 * HOUR), row("fraud", T0 + 3 * HOUR)]
    rows.append(row("late-label", T0 + 4 * HOUR))
    labels = {
        "fraud": [label(T0 + 3 * HOUR, "FRAUD", T0 + 5 * HOUR)],
        "late-label": [label(T0 + 4 * HOUR, "FRAUD", T0 + 30 * HOUR)],  # not known yet
    }
    now = T0 + DAY + HOUR  # only "old" is past the one-day delay
    steps, at = planned(rows, labels, Position(T0 - DAY), now)
    assert steps == [("old", False, 1), ("fraud", True, 1)]
    assert at == Position(T0 + HOUR, {"fraud": T0 + 3 * HOUR})
    # later: "young" matures, "fraud" is not learned again, "late-label" is now known
    steps, at = planned(rows, labels, at, T0 + 30 * HOUR)
    assert steps == [("young", False, 1), ("late-label", True, 1)]
    assert at == Position(T0 + 6 * HOUR, {})
    assert planned(rows, labels, at, T0 + 30 * HOUR)[0] == []  # nothing twice


def test_leaky_rows_other_feature_sets_and_sampled_out_rows_are_never_learned() -> None:
    ids = [f"tx{n}" for n in range(40)]
    rows = [row(t, T0 + n) for n, t in enumerate(ids)]
    rows += [row("leaky", T0 + 50), row("other", T0 + 51, feature_set_hash="0" * 16)]
    labels = {"leaky": [label(T0 + 50, "FRAUD", T0 + 52)]}  # before its decision at +55
    steps, at = planned(rows, labels, Position(T0), T0 + 2 * DAY, keep=4)
    kept = [t for t in ids if kept_by_sample(t, 4)]
    assert 0 < len(kept) < len(ids)
    assert steps == [(t, False, 4) for t in kept]
    assert at.cursor_ms == T0 + DAY


def online_state(rig: Rig) -> dict[str, Any]:
    [found] = rig.backends.state.execute(Batch().hgetall(NS, ONLINE))
    return found


def learn_all(rig: Rig, settings: Any = ONLINE_SETTINGS) -> Any:
    learner = rig.learner(settings)
    learner.start()
    try:
        learner.run(lambda: False, idle_s=0.0)
    finally:
        learner.close()
    return learner


def test_the_learner_learns_each_row_once_and_a_restart_learns_nothing_again() -> None:
    rig, sent = Rig(), traffic(3000, 6, seed=5)
    rig.send(sent.rows, sent.labels)
    learn_all(rig)
    first = online_state(rig)
    counts = json.loads(first["learned"])
    now = max(r["event_time"] for r in sent.rows)
    matured = [r for r in sent.rows if r["event_time"] < now - DAY]
    known = {lab["transaction_id"] for lab in sent.labels if lab["label_time"] <= now}
    young_known = [
        r for r in sent.rows if r["event_time"] >= now - DAY and r["transaction_id"] in known
    ]
    assert counts["rows"] == len(matured) + len(young_known)
    assert counts["frauds"] == sum(
        r["transaction_id"] in sent.frauds for r in matured + young_known
    )
    assert json.loads(first["position"])["cursor_ms"] == now - DAY
    assert json.loads(first["model"])["learned"] == counts["rows"]
    line = f"online model    {counts['rows']:,} rows learned ({counts['frauds']:,} frauds), "
    status = read_status(rig.backends.state)
    assert status["online"]["rows"] == counts["rows"]
    assert [s for s in status_lines(status) if s.startswith("online")] == [
        line
        + f"every row before {_time(now - DAY)} and {len(young_known):,} labelled ones after it"
    ]
    learn_all(rig)  # a restart on the same state and topics
    assert online_state(rig)["model"] == first["model"]
    assert online_state(rig)["seq"] == first["seq"]


def test_an_update_that_crashed_before_its_write_is_redone_to_the_same_state(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sent = traffic(2000, 5, seed=6)
    reference, crashed = Rig(), Rig()
    for rig in (reference, crashed):
        rig.send(sent.rows, sent.labels)
    learn_all(reference)

    def die(*args: Any) -> bool:
        raise ConnectionError("died before the write")

    with monkeypatch.context() as patched:
        patched.setattr(OnlineLearning, "_write", die)
        with pytest.raises(ConnectionError, match="died before the write"):
            learn_all(crashed)
    assert online_state(crashed) == {}
    learn_all(crashed)
    assert online_state(crashed)["model"] == online_state(reference)["model"]


def test_a_retrain_registers_the_online_snapshot_with_prequential_validation() -> None:
    rig, sent = Rig(), traffic(6000, 8, seed=7)
    rig.send(sent.rows, sent.labels)
    request_retrain(rig.backends.state, "online", "cli:ana", rig.clock)
    [outcome] = learn_all(rig).outcomes
    version = rig.registry.get(outcome.version)
    assert (version.kind, version.artifact.format) == ("river-logreg", "river-logreg-json")
    assert version.artifact.sha256 == hashlib.sha256(online_state(rig)["model"]).hexdigest()
    metrics = version.metrics
    assert outcome.reason == (
        f"promoted: no champion yet (AP {metrics['average_precision']:.4f}, ROC AUC "
        f"{metrics['roc_auc']:.4f}, band alert rates within targets)"
    )
    assert metrics["validation_scores"] == {
        "prequential": metrics["validation_rows"],
        "snapshot": 0,
    }
    assert metrics["roc_auc"] > 0.9
    assert rig.registry.aliases() == {"champion": version.version}
    served = rig.registry.artifact(version)
    loaded = load_model(rig.registry, version.version)
    assert isinstance(loaded, OnlineArtifact) and loaded.artifact_bytes() == served


def test_with_both_learners_a_retrain_registers_a_candidate_of_each_kind() -> None:
    rig, sent = Rig(), traffic(6000, 8, seed=8)
    rig.send(sent.rows, sent.labels)
    request_retrain(rig.backends.state, "both", "cli:ana", rig.clock)
    learner = learn_all(rig, SETTINGS.model_copy(update={"learner": "both"}))
    batch, online = learner.outcomes
    kinds = [rig.registry.get(o.version).kind for o in (batch, online)]
    assert kinds == ["lightgbm", "river-logreg"]
    assert batch.reason.startswith("promoted: no champion yet")
    assert rig.registry.get(online.version).parent == batch.version
    # compared with a champion, an online candidate is never promoted by the learner itself
    assert (online.alias, online.reason) == (
        "challenger",
        "kept as challenger: the comparison involves an online model, whose validation scores "
        "favour it; test it in a shadow experiment (stream-sentinel experiments start) or "
        "promote it by hand",
    )
    assert rig.registry.aliases()["champion"] == batch.version
    decisions = rig.learner(SETTINGS)._set.decisions()
    assert [d["version"] for d in decisions] == [online.version, batch.version]


def test_a_stored_model_of_another_feature_set_is_replaced_by_a_new_one(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from stream_sentinel.scoring.online import OnlineLogReg

    rig = Rig()
    old = OnlineLogReg(FEATURES[:29])  # as stored before the feature set grew
    rig.backends.state.execute(
        Batch().hset(NS, ONLINE, {"model": old.to_bytes(), "position": "null", "seq": "4"})
    )
    held = OnlineLearning(rig.backends.state, DAY, 28 * DAY, 1).load()
    assert (held.model.features, held.position, held.counts, held.seq) == (FEATURES, None, {}, 4)
    assert (
        f"the stored online model reads 29 features, the detector now logs {len(FEATURES)}: "
        "starting a new online model"
    ) in caplog.text
