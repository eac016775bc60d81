"""Split mode on real Kafka, Redis and the registry: while a split experiment runs,
`stream-sentinel detect` decides each user's transactions by the model of the user's arm, and
every record says which arm and which model decided."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from stream_sentinel.clients.backends import RealClients
from stream_sentinel.clock import SYSTEM_CLOCK
from stream_sentinel.config import Settings, load_settings
from stream_sentinel.learning.aliases import CHALLENGER
from stream_sentinel.learning.experiments.store import ExperimentStore
from stream_sentinel.learning.models import draft_of, load_model
from stream_sentinel.learning.registry import ModelRegistry
from stream_sentinel.logic.experiments.definition import Experiment
from stream_sentinel.logic.experiments.split import arms_of
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

EXPERIMENT = "exp-it-split"


def test_a_split_experiment_decides_each_users_rows_by_the_model_of_the_users_arm(
    settings: Settings, tmp_path: Path
) -> None:
    rates = load_settings(environ={}).detector.band_rates
    store = RealClients(settings).state()
    registry = ModelRegistry(store)
    versions = tuple(
        registry.register(*draft_of(train(history(), rates, rounds=r)[0], 86_400_000))[0].version
        for r in (10, 14)
    )
    champion, challenger = versions
    registry.promote(champion, actor="test")
    experiment = Experiment.new(
        EXPERIMENT, "split", champion, challenger, 0.3, int(time.time() * 1000), "test", ""
    )
    ExperimentStore(store, SYSTEM_CLOCK).start(experiment)
    registry.promote(challenger, CHALLENGER, f"experiment {EXPERIMENT}", "test")
    models = [load_model(registry, v) for v in versions]
    store.close()
    create_topics(settings)
    sent = transactions(2000, users=200, seed=21)
    produce(settings, sent)
    finish(detect(settings, "--until-idle", "3"))
    scores = assert_exactly_once(settings, sent)
    rows = assert_one_row_per_decision(settings, scores)
    arms = arms_of(EXPERIMENT, [s["user_id"] for s in scores], experiment.shares).tolist()
    assert set(arms) == {0, 1}
    matrix = np.array([rows[s["transaction_id"]]["features"] for s in scores])
    predicted = [m.predict(matrix).tolist() for m in models]
    assert [s["arm"] for s in scores] == arms
    assert {s["experiment_id"] for s in scores} == {EXPERIMENT}
    assert [s["model_version"] for s in scores] == [versions[a] for a in arms]
    assert [s["score"] for s in scores] == [predicted[a][i] for i, a in enumerate(arms)]
    logged = [rows[s["transaction_id"]] for s in scores]
    assert [(r["arm"], r["model_version"]) for r in logged] == [(a, versions[a]) for a in arms]
    assert [r["shadow_model_version"] for r in logged] == [versions[1 - a] for a in arms]
    assert [r["shadow_score"] for r in logged] == [predicted[1 - a][i] for i, a in enumerate(arms)]
