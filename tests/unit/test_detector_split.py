"""Split mode on the embedded backends: while a split experiment runs, each user's arm (a hash
of the experiment and the user) says which model decides the user's transactions, and every
record names its arm and the model that decided it; the other arm's model scores beside."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

import numpy as np
import pytest

from stream_sentinel.detector.feature_log import FeatureLog, feature_rows
from stream_sentinel.detector.output_writer import OutputWriter
from stream_sentinel.detector.outputs import LEVEL_NAMES, fraud_score
from stream_sentinel.detector.scorer import Scored, score_batch
from stream_sentinel.learning.aliases import CHALLENGER
from stream_sentinel.learning.models import load_model
from stream_sentinel.logic.experiments.definition import Experiment
from stream_sentinel.logic.experiments.split import arms_of
from stream_sentinel.logic.rules import ControlFlags
from tests.unit.test_detector_embedded import NOW, tx
from tests.unit.test_detector_shadow import EXPERIMENT, Shadowed
from tests.unit.test_model_hot_reload import CHECK_S

pytestmark = pytest.mark.unit
SHARE = 0.5
USERS = 8


class SplitRig(Shadowed):
    """A detector serving the champion and, while a split experiment runs, the challenger."""

    def start_experiment(self) -> None:
        """What `experiments start --challenger V --mode split --share 0.5` does."""
        experiment = Experiment.new(
            EXPERIMENT, "split", self.champion, self.challenger, SHARE, NOW, "cli:ana", ""
        )
        self.experiments.start(experiment)
        self.registry.promote(self.challenger, CHALLENGER, f"experiment {EXPERIMENT}", "cli:ana")

    def batch(self, count: int = 16) -> None:
        for n in range(self.sent, self.sent + count):
            amount = 25.0 + 90.0 * (n % 5) + (2_000.0 if n % 4 == 0 else 0.0)
            user = f"u{n % USERS}"
            record = tx(n, user, minutes=n * 0.5, amount=amount, merchant_id=f"m{n % 2}")
            self.pipeline.send(record, key=user)
        self.sent += count
        self.pipeline.drain(self.worker, self.sent)


def expected_arms(rows: list[dict[str, Any]]) -> list[int]:
    return arms_of(EXPERIMENT, [r["user_id"] for r in rows], (1 - SHARE, SHARE)).tolist()


def by_model(rig: SplitRig, rows: list[dict[str, Any]]) -> dict[str, Scored]:
    """Each model's own decisions of the logged vectors (no control flags in these tests)."""
    vectors = np.array([row["features"] for row in rows])
    control = ControlFlags.none(len(rows))
    settings = rig.pipeline.settings
    return {
        version: score_batch(vectors, control, load_model(rig.registry, version), settings)
        for version in (rig.champion, rig.challenger)
    }


def test_a_split_experiments_arm_1_users_are_decided_by_the_challenger() -> None:
    rig = SplitRig()
    rig.start_experiment()
    rig.worker.start()
    rig.batch()
    rig.batch()  # with the users' history: other scores, other levels
    rows, scores = rig.rows(), rig.read("fraud-scores")
    arms = expected_arms(rows)
    assert set(arms) == {0, 1}  # both arms have users in these batches
    versions = (rig.champion, rig.challenger)
    deciding = [versions[arm] for arm in arms]
    other = [versions[1 - arm] for arm in arms]
    own = by_model(rig, rows)
    vectors = np.array([row["features"] for row in rows])
    assert [r["arm"] for r in rows] == arms
    assert [s["arm"] for s in scores] == arms
    assert {r["experiment_id"] for r in rows + scores} == {EXPERIMENT}
    assert [r["model_version"] for r in rows] == deciding
    assert [s["model_version"] for s in scores] == deciding
    decided = [own[v].outcome for v in deciding]
    assert [s["score"] for s in scores] == [o.scores[i] for i, o in enumerate(decided)]
    assert [r["score"] for r in rows] == [s["score"] for s in scores]
    levels = [LEVEL_NAMES[o.levels[i]] for i, o in enumerate(decided)]
    assert [s["risk_level"] for s in scores] == levels
    assert [r["risk_level"] for r in rows] == levels
    assert [s["contributions"] for s in scores] == [
        [{"feature": f, "value": v} for f, v in own[d].contributions.get(i, [])]
        for i, d in enumerate(deciding)
    ]
    assert [r["shadow_model_version"] for r in rows] == other
    besides = {v: load_model(rig.registry, v) for v in versions}
    shadow = [besides[v].predict(vectors[i : i + 1])[0] for i, v in enumerate(other)]
    assert [r["shadow_score"] for r in rows] == shadow
    assert [r["shadow_risk_level"] for r in rows] == [
        LEVEL_NAMES[besides[v].bands.levels(np.array([s]))[0]]
        for v, s in zip(other, shadow, strict=True)
    ]
    alerted = {a["transaction_id"]: a["score"] for a in rig.read("fraud-alerts")}
    score_of = {s["transaction_id"]: s["score"] for s in scores}
    assert alerted and alerted == {t: score_of[t] for t in alerted}  # by the deciding model
    assert rig.worker.summary()["shadow"] == {
        "experiment_id": EXPERIMENT,
        "mode": "split",
        "challenger": rig.challenger,
        "version": rig.challenger,
        "error": None,
    }
    assert rig.metric("sentinel_shadow_model_info", {"version": rig.challenger}) == 1


def test_the_split_records_are_the_generic_encoders_bytes() -> None:
    rig = SplitRig()
    rig.start_experiment()
    rig.worker.start()
    rig.batch(24)
    serde, topics = rig.pipeline.serde, rig.pipeline.topics
    log, writer = FeatureLog(serde, topics), OutputWriter(rig.pipeline.settings, serde, topics)
    encode_row, encode_score = serde.encoder("decision-features"), serde.encoder("fraud-scores")
    assert rig.batches and all(b.scored and b.scored.split for b in rig.batches)
    for prepared in rig.batches:
        scored = prepared.scored
        assert scored is not None and scored.split is not None
        args = (prepared.records, prepared.intake, prepared.features, scored, 7)
        arms = scored.split.arms
        order = np.concatenate([np.flatnonzero(arms == 0), np.flatnonzero(arms == 1)]).tolist()
        assert [v for _, _, v in log.rows(*args)] == [
            encode_row(r) for r in feature_rows(*args, order)
        ]
        written = writer.scores_and_alerts(prepared.records, prepared.intake, scored, 7)
        reasons = scored.reasons()
        generic = [
            fraud_score(
                prepared.intake.row(r),
                scored,
                r,
                reasons[r],
                prepared.records[prepared.good[r]].timestamp()[1],
                7,
            )
            for r in order
        ]
        assert [v for t, _, v in written if t == topics.fraud_scores] == [
            encode_score(s) for s in generic
        ]
        assert [s["arm"] for s in generic] == sorted(arms.tolist())


def test_a_user_is_in_the_same_arm_in_every_detector_and_every_batch() -> None:
    first, second = SplitRig(), SplitRig()
    for rig in (first, second):
        rig.start_experiment()
        rig.worker.start()
        rig.batch()
        rig.batch()
    arms = [{(r["user_id"], r["arm"]) for r in rig.rows()} for rig in (first, second)]
    assert arms[0] == arms[1]
    assert len(arms[0]) == USERS  # one arm per user, across both batches
    rows = first.rows()
    assert [r["arm"] for r in rows] == expected_arms(rows)


class HeldLoads:
    """An executor whose loads finish only when the test says so."""

    def __init__(self) -> None:
        self.held: list[tuple[Future[Any], Callable[..., Any], tuple[Any, ...]]] = []

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        future: Future[Any] = Future()
        self.held.append((future, fn, args))
        return future

    def finish(self) -> None:
        for future, fn, args in self.held:
            future.set_result(fn(*args))
        self.held.clear()

    def shutdown(self, wait: bool = True, cancel_futures: bool = False) -> None:
        self.held.clear()


def test_a_challenger_still_loading_decides_nothing() -> None:
    rig = SplitRig()
    loads = HeldLoads()
    rig.challenger_models.models._executor = loads  # type: ignore[assignment]
    rig.worker.start()
    rig.start_experiment()  # announced: the challenger starts loading at the next batch
    rig.batch()
    assert len(loads.held) == 1
    rows, scores = rig.rows(), rig.read("fraud-scores")
    assert [(r["experiment_id"], r["arm"]) for r in rows] == [(EXPERIMENT, 0)] * 16
    assert [(s["experiment_id"], s["arm"]) for s in scores] == [(EXPERIMENT, 0)] * 16
    assert {r["model_version"] for r in rows + scores} == {rig.champion}
    assert [r["shadow_score"] for r in rows] == [None] * 16
    assert {r["shadow_model_version"] for r in rows} == {None}
    own = by_model(rig, rows)[rig.champion]
    assert [s["score"] for s in scores] == own.outcome.scores.tolist()
    assert rig.worker.summary()["shadow"]["version"] is None
    loads.finish()
    rig.batch()  # the load is collected between the batches: this one is split
    later = rig.rows()[16:]
    assert [r["arm"] for r in later] == expected_arms(later)
    assert {r["model_version"] for r in later} == {rig.champion, rig.challenger}


def test_stopping_the_experiment_returns_every_row_to_the_champion_at_the_next_check() -> None:
    rig = SplitRig()
    rig.start_experiment()
    rig.worker.start()
    rig.batch()
    rig.experiments.end(EXPERIMENT, "stopped", "stopped by cli:ana", "cli:ana")
    rig.batch()  # `stop` announces nothing: the detector learns it at its next check
    rig.clock.advance(CHECK_S + 1)
    rig.batch()
    rows, scores = rig.rows(), rig.read("fraud-scores")
    assert [r["arm"] for r in rows[:32]] == expected_arms(rows[:32])
    assert [(r["experiment_id"], r["arm"]) for r in rows[32:]] == [(None, None)] * 16
    assert [(s["experiment_id"], s["arm"]) for s in scores[32:]] == [(None, None)] * 16
    assert {r["model_version"] for r in rows[32:] + scores[32:]} == {rig.champion}
    assert [r["shadow_score"] for r in rows[32:]] == [None] * 16
    own = by_model(rig, rows[32:])[rig.champion]
    assert [s["score"] for s in scores[32:]] == own.outcome.scores.tolist()
    assert rig.worker.summary()["shadow"] is None


def test_a_split_challenger_whose_predict_raises_is_dropped_and_the_champion_decides_all(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rig = SplitRig()
    rig.start_experiment()
    rig.worker.start()
    served = rig.challenger_models.models.current
    assert served is not None and served.version == rig.challenger

    def broken(features: np.ndarray) -> np.ndarray:
        raise ValueError("a feature it never saw")

    monkeypatch.setattr(served, "predict", broken)
    rig.batch()
    rig.batch()  # not tried again
    rows, scores = rig.rows(), rig.read("fraud-scores")
    assert [(r["experiment_id"], r["arm"]) for r in rows] == [(EXPERIMENT, 0)] * 32
    assert {s["arm"] for s in scores} == {0}
    assert {r["model_version"] for r in rows + scores} == {rig.champion}
    assert [r["shadow_score"] for r in rows] == [None] * 32
    assert rig.worker.summary()["shadow"]["error"] == (
        f"challenger {rig.challenger} cannot score (a feature it never saw); "
        "not used in this experiment"
    )
    assert rig.metric("sentinel_shadow_model_load_failures_total") == 1
