"""Shadow scoring on real Kafka, Redis and the registry: while a shadow experiment runs,
`stream-sentinel detect` logs the challenger's scores of every decision's vector, and the
champion alone decides."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from stream_sentinel.clients.backends import RealClients
from stream_sentinel.clock import SYSTEM_CLOCK
from stream_sentinel.config import Settings, load_settings
from stream_sentinel.detector.outputs import LEVEL_NAMES
from stream_sentinel.learning.aliases import SHADOW
from stream_sentinel.learning.experiments.store import ExperimentStore
from stream_sentinel.learning.models import draft_of, load_model
from stream_sentinel.learning.registry import ModelRegistry
from stream_sentinel.logic.experiments.definition import Experiment
from stream_sentinel.scoring.train import train
from tests.integration.detector_support import (
    assert_exactly_once,
    assert_one_row_per_decision,
    create_topics,
    detect,
    finish,
    produce,
    transactions,
)
from tests.unit.test_model_store import history


def test_a_shadow_experiment_logs_the_challengers_scores_and_the_champion_decides(
    settings: Settings, tmp_path: Path
) -> None:
    rates = load_settings(environ={}).detector.band_rates
    store = RealClients(settings).state()
    registry = ModelRegistry(store)
    champion, challenger = (
        registry.register(*draft_of(train(history(), rates, rounds=r)[0], 86_400_000))[0].version
        for r in (10, 14)
    )
    registry.promote(champion, actor="test")
    experiment = Experiment.new(
        "exp-it", "shadow", champion, challenger, None, int(time.time() * 1000), "test", ""
    )
    ExperimentStore(store, SYSTEM_CLOCK).start(experiment)
    registry.promote(challenger, SHADOW, "experiment exp-it", "test")
    champion_model, challenger_model = (load_model(registry, v) for v in (champion, challenger))
    store.close()
    create_topics(settings)
    sent = transactions(2000, users=200, seed=21)
    produce(settings, sent)
    finish(detect(settings, "--until-idle", "3"))
    scores = assert_exactly_once(settings, sent)
    rows = assert_one_row_per_decision(settings, scores)
    matrix = np.array([rows[s["transaction_id"]]["features"] for s in scores])
    # the champion decided: the published scores are its scores of the logged vectors, as
    # without a shadow
    assert {s["model_version"] for s in scores} == {champion}
    assert champion_model.predict(matrix).tolist() == [s["score"] for s in scores]
    assert {(s["experiment_id"], s["arm"]) for s in scores} == {("exp-it", 0)}
    # ... and the challenger scored every one beside it
    expected = challenger_model.predict(matrix)
    logged = [rows[s["transaction_id"]] for s in scores]
    assert [r["shadow_score"] for r in logged] == expected.tolist()
    assert [r["shadow_risk_level"] for r in logged] == [
        LEVEL_NAMES[i] for i in challenger_model.bands.levels(expected)
    ]
    assert {(r["experiment_id"], r["arm"], r["shadow_model_version"]) for r in logged} == {
        ("exp-it", 0, challenger)
    }
