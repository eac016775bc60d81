"""Shadow mode on the embedded backends: while a shadow experiment runs, the challenger scores
every batch beside the champion and its scores are logged; only the champion decides."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from stream_sentinel.clock import ManualClock
from stream_sentinel.commands.status import _model_note, _shadow_note
from stream_sentinel.detector.feature_log import NO_EXPERIMENT, FeatureLog, feature_rows
from stream_sentinel.detector.metrics import DetectorMetrics
from stream_sentinel.detector.models import RegistryModels
from stream_sentinel.detector.outputs import LEVEL_NAMES
from stream_sentinel.detector.shadow import registry_challenger
from stream_sentinel.detector.worker import DetectorWorker, Prepared
from stream_sentinel.learning import keys
from stream_sentinel.learning.aliases import SHADOW
from stream_sentinel.learning.experiments.store import ExperimentStore
from stream_sentinel.learning.model_events import Announcer, EventFollower
from stream_sentinel.learning.models import draft_of, load_model
from stream_sentinel.learning.registry import ModelRegistry
from stream_sentinel.logic.experiments.definition import Experiment
from stream_sentinel.state.base import Batch, Namespace
from tests.unit.test_detector_embedded import NOW, Pipeline, tx
from tests.unit.test_model_hot_reload import CHECK_S, DAY_MS, model

pytestmark = pytest.mark.unit
EXPERIMENT = "exp-20261204-2210"
FIELDS = tuple(NO_EXPERIMENT)


class Shadowed:
    """A pipeline whose detector serves the champion and, while a shadow experiment runs, the
    challenger beside it (models loaded in the foreground, a manual clock)."""

    def __init__(self) -> None:
        self.pipeline = pipeline = Pipeline()
        self.clock = ManualClock(NOW)
        state = pipeline.backends.state
        announcer = Announcer(pipeline.backends.broker, pipeline.serde, pipeline.topics)
        self.registry = ModelRegistry(state, self.clock, announce=announcer)
        self.experiments = ExperimentStore(state, self.clock)
        self.metrics = DetectorMetrics()
        self.champion = self.register(10)
        self.challenger = self.register(12)
        self.registry.promote(self.champion, actor="test")
        self.models = RegistryModels(
            ModelRegistry(state, self.clock),
            EventFollower(pipeline.backends.broker, pipeline.serde, pipeline.topics),
            check_s=CHECK_S,
            clock=self.clock,
            metrics=self.metrics,
            background=False,
        )
        self.challenger_models = registry_challenger(
            pipeline.settings,
            pipeline.backends,
            self.models,
            clock=self.clock,
            metrics=self.metrics,
            background=False,
        )
        self.worker = DetectorWorker(
            pipeline.settings,
            pipeline.backends,
            pipeline.serde,
            models=self.models,
            clock=self.clock,
            metrics=self.metrics,
            challenger=self.challenger_models,
        )
        self.batches: list[Prepared] = []
        self.worker.handler.on_batch = self.batches.append
        self.sent = 0

    def register(self, rounds: int) -> str:
        version, _ = self.registry.register(*draft_of(model(rounds), DAY_MS))
        return version.version

    def start_experiment(self) -> None:
        """What `experiments start --challenger V --mode shadow` does."""
        experiment = Experiment.new(
            EXPERIMENT, "shadow", self.champion, self.challenger, None, NOW, "cli:ana", ""
        )
        self.experiments.start(experiment)
        self.registry.promote(self.challenger, SHADOW, f"experiment {EXPERIMENT}", "cli:ana")

    def batch(self, count: int = 6) -> None:
        for n in range(self.sent, self.sent + count):
            amount = 25.0 + 90.0 * (n % 5) + (2_000.0 if n % 4 == 0 else 0.0)
            record = tx(n, f"u{n % 3}", minutes=n * 0.5, amount=amount, merchant_id=f"m{n % 2}")
            self.pipeline.send(record, key=record["user_id"])
        self.sent += count
        self.pipeline.drain(self.worker, self.sent)

    def read(self, logical: str) -> list[dict[str, Any]]:
        """A topic's records in the order the transactions were sent (tx-0, tx-1, ...)."""
        found = self.pipeline.read(logical)
        return sorted(found, key=lambda r: int(r["transaction_id"].split("-")[1]))

    def rows(self) -> list[dict[str, Any]]:
        return self.read("decision-features")

    def metric(self, name: str, labels: dict[str, str] | None = None) -> float | None:
        return self.metrics.registry.get_sample_value(name, labels or {})


def shadow_fields(row: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(row[name] for name in FIELDS)


#: Fields that differ between two pipelines fed the same transactions: the input record's
#: Kafka timestamp (the producer's clock).
PRODUCED = ("produced_time",)


def decisions(rig: Shadowed) -> list[dict[str, Any]]:
    """The FraudScores but the experiment they name."""
    return [
        {k: v for k, v in s.items() if k not in ("experiment_id", "arm", *PRODUCED)}
        for s in rig.read("fraud-scores")
    ]


def alerts(rig: Shadowed) -> list[dict[str, Any]]:
    return [{k: v for k, v in a.items() if k not in PRODUCED} for a in rig.read("fraud-alerts")]


def test_a_shadow_experiment_logs_the_challengers_scores_of_the_logged_vectors() -> None:
    rig = Shadowed()
    rig.worker.start()
    rig.batch()
    assert [shadow_fields(r) for r in rig.rows()] == [(None,) * 5] * 6
    rig.start_experiment()  # announced on model-events: picked up at the next batch
    rig.batch()
    logged = rig.rows()[6:]
    vectors = np.array([row["features"] for row in logged])
    challenger = load_model(rig.registry, rig.challenger)
    expected = challenger.predict(vectors)
    expected_levels = [LEVEL_NAMES[i] for i in challenger.bands.levels(expected)]
    assert [r["experiment_id"] for r in logged] == [EXPERIMENT] * 6
    assert [r["arm"] for r in logged] == [0] * 6
    assert [r["shadow_model_version"] for r in logged] == [rig.challenger] * 6
    assert [r["shadow_score"] for r in logged] == expected.tolist()
    assert [r["shadow_risk_level"] for r in logged] == expected_levels
    assert [r["model_version"] for r in logged] == [rig.champion] * 6  # the champion decided
    scores = rig.read("fraud-scores")
    assert [(s["experiment_id"], s["arm"]) for s in scores] == [(None, None)] * 6 + [
        (EXPERIMENT, 0)
    ] * 6
    assert {s["model_version"] for s in scores} == {rig.champion}
    shadow_batches = sum(1 for b in rig.batches if b.scored and b.scored.shadow)
    assert shadow_batches >= 1
    assert rig.metric("sentinel_shadow_scoring_seconds_count") == shadow_batches
    assert rig.metric("sentinel_shadow_model_info", {"version": rig.challenger}) == 1
    assert rig.metric("sentinel_model_info", {"version": rig.champion}) == 1
    assert rig.worker.summary()["shadow"] == {
        "experiment_id": EXPERIMENT,
        "mode": "shadow",
        "challenger": rig.challenger,
        "version": rig.challenger,
        "error": None,
    }


def test_the_fast_rows_with_a_shadow_are_the_generic_encoders_bytes() -> None:
    rig = Shadowed()
    rig.start_experiment()
    rig.worker.start()
    rig.batch(12)
    log = FeatureLog(rig.pipeline.serde, rig.pipeline.topics)
    encode = rig.pipeline.serde.encoder("decision-features")
    assert rig.batches and all(b.scored and b.scored.shadow for b in rig.batches)
    for prepared in rig.batches:
        assert prepared.scored is not None
        args = (prepared.records, prepared.intake, prepared.features, prepared.scored, 7)
        fast = [value for _, _, value in log.rows(*args)]
        generic = feature_rows(*args)
        assert fast == [encode(row) for row in generic]
        assert {row["shadow_model_version"] for row in generic} == {rig.challenger}


def test_decisions_alerts_and_state_are_the_same_with_and_without_a_shadow() -> None:
    without, shadowed = Shadowed(), Shadowed()
    shadowed.start_experiment()
    for rig in (without, shadowed):
        rig.worker.start()
        rig.batch(30)
    assert shadowed.rows()[0]["shadow_score"] is not None
    assert alerts(without) == alerts(shadowed)
    assert len(alerts(without)) > 0

    assert decisions(without) == decisions(shadowed)

    def logged(rig: Shadowed) -> list[str]:  # the rows but the experiment fields
        rows = rig.rows()
        return [repr({k: v for k, v in r.items() if k not in FIELDS}) for r in rows]

    assert logged(without) == logged(shadowed)
    for ns in (Namespace.PROFILES, Namespace.PIPELINE):
        dbs = [rig.pipeline.backends.state.store._dbs[ns].data for rig in (without, shadowed)]  # type: ignore[attr-defined]
        assert dbs[0] == dbs[1]


def test_a_stopped_experiment_is_no_longer_scored_after_the_next_check() -> None:
    rig = Shadowed()
    rig.start_experiment()
    rig.worker.start()
    rig.batch()
    rig.experiments.end(EXPERIMENT, "stopped", "stopped by cli:ana", "cli:ana")
    rig.batch()  # `stop` announces nothing: the detector learns it at its next check
    rig.clock.advance(CHECK_S + 1)
    rig.batch()
    rows = rig.rows()
    assert [r["experiment_id"] for r in rows] == [EXPERIMENT] * 12 + [None] * 6
    assert [shadow_fields(r) for r in rows[12:]] == [(None,) * 5] * 6
    assert {s["arm"] for s in rig.read("fraud-scores")[12:]} == {None}
    assert rig.worker.summary()["shadow"] is None


def test_a_refused_shadow_version_leaves_the_decisions_alone_and_says_why() -> None:
    rig, without = Shadowed(), Shadowed()
    chunk = rig.registry.get(rig.challenger).artifact.chunks[0]
    rig.pipeline.backends.state.execute(Batch().set(keys.MODELS, keys.chunk(chunk), b"junk"))
    rig.start_experiment()
    for each in (rig, without):
        each.worker.start()
        each.batch()
    rows = rig.rows()
    assert [(r["experiment_id"], r["arm"]) for r in rows] == [(EXPERIMENT, 0)] * 6
    assert [r["shadow_score"] for r in rows] == [None] * 6
    status = rig.worker.summary()["shadow"]
    assert status["version"] is None
    assert status["error"].startswith(f"cannot load {rig.challenger}: chunk 0 of artifact ")
    assert status["error"].endswith("still scoring with the champion alone")
    assert rig.metric("sentinel_shadow_model_load_failures_total") == 1
    assert rig.metric("sentinel_model_load_failures_total") == 0
    assert rig.worker.summary()["model"]["version"] == rig.champion
    assert alerts(rig) == alerts(without)
    assert decisions(rig) == decisions(without)


def test_status_prints_the_shadow_beside_the_model() -> None:
    rig = Shadowed()
    rig.start_experiment()
    rig.worker.start()
    beat = rig.worker.summary()
    assert _model_note(beat["model"]) + _shadow_note(beat["shadow"]) == (
        f", model {rig.champion} (champion #1), shadow {rig.challenger} ({EXPERIMENT})"
    )
    waiting = {"experiment_id": EXPERIMENT, "challenger": "m-2", "version": None, "error": None}
    assert _shadow_note(waiting) == f", shadow none (loading or refused m-2) ({EXPERIMENT})"
    split = {**waiting, "version": "m-2", "mode": "split"}
    assert _shadow_note(split) == f", challenger m-2 deciding its arm ({EXPERIMENT})"
    assert _shadow_note(None) == ""


def test_a_challenger_whose_predict_raises_is_dropped_and_the_champion_decides(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rig, without = Shadowed(), Shadowed()
    rig.start_experiment()
    rig.worker.start()
    without.worker.start()
    served = rig.challenger_models.models.current
    assert served is not None and served.version == rig.challenger

    def broken(features: np.ndarray) -> np.ndarray:
        raise ValueError("a feature it never saw")

    monkeypatch.setattr(served, "predict", broken)
    rig.batch()
    rig.batch()  # not tried again
    without.batch()
    without.batch()  # the same two batches (merchant counts move between batches)
    assert [r["shadow_score"] for r in rig.rows()] == [None] * 12
    assert rig.worker.summary()["shadow"]["error"] == (
        f"shadow {rig.challenger} cannot score (a feature it never saw); "
        "not used in this experiment"
    )
    assert rig.metric("sentinel_shadow_model_load_failures_total") == 1
    assert decisions(rig) == decisions(without)
    assert alerts(rig) == alerts(without)


def test_each_models_scoring_cost_reaches_the_experiment_at_each_check() -> None:
    rig = Shadowed()
    rig.start_experiment()
    rig.worker.start()
    rig.batch()
    rig.batch()
    key = f"experiment:{EXPERIMENT}:cost"
    state = rig.pipeline.backends.state
    [before] = state.execute(Batch().hgetall(Namespace.EXPERIMENTS, key))
    assert before == {}  # measured, not written yet: at the next check
    rig.clock.advance(CHECK_S + 1)
    rig.batch()  # the check before this batch adds the first two batches' cost
    [found] = state.execute(Batch().hgetall(Namespace.EXPERIMENTS, key))
    cost = {k.decode() if isinstance(k, bytes) else k: float(v) for k, v in found.items()}
    assert (cost["0:rows"], cost["1:rows"]) == (12.0, 12.0)
    assert cost["0:us"] > 0 and cost["1:us"] > 0
    rig.challenger_models.close()  # the rest as the detector stops
    [found] = state.execute(Batch().hgetall(Namespace.EXPERIMENTS, key))
    assert float(found.get(b"1:rows", found.get("1:rows"))) == 18.0
    priced = rig.experiments.counts_with_cost(EXPERIMENT)
    assert priced["0:scoring_us"] == 0.0  # no service counted rows: the cost prices none
