"""The feature log on real Kafka, Redis and the registry: `stream-sentinel detect` writes one
row per decision in the decision's transaction, holding the vector its model scored."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np

from stream_sentinel.clients.backends import RealClients
from stream_sentinel.config import Settings
from stream_sentinel.learning.models import draft_of, load_model
from stream_sentinel.learning.registry import ModelRegistry
from stream_sentinel.logic.feature_set import LIVE, LIVE_HASH
from stream_sentinel.logic.features import COLUMN, FEATURES
from tests.integration.detector_support import (
    assert_exactly_once,
    assert_one_row_per_decision,
    create_topics,
    detect,
    finish,
    produce,
    read_all,
    transactions,
)
from tests.unit.test_model_store import tiny_model


def test_every_decision_has_one_feature_log_row_with_the_vector_scored(
    settings: Settings, tmp_path: Path
) -> None:
    store = RealClients(settings).state()
    registry = ModelRegistry(store)
    version, _ = registry.register(*draft_of(tiny_model(), 86_400_000))
    registry.promote(version.version, actor="test")
    model = load_model(registry, version.version)  # what the detector loads
    store.close()
    create_topics(settings)
    sent = transactions(5000, users=400, seed=11)
    produce(settings, sent)
    finish(detect(settings, "--until-idle", "3"))
    scores = assert_exactly_once(settings, sent)  # the feature log's rows included
    rows = assert_one_row_per_decision(settings, scores)
    assert len(rows) == len(sent)
    assert {row["model_version"] for row in rows.values()} == {model.version}
    assert {(r["feature_set"], r["feature_set_hash"]) for r in rows.values()} == {(LIVE, LIVE_HASH)}
    # what the vectors must hold, computed from the transactions alone: the amount, and how
    # many of the user's transactions came before this one (event order = sending order)
    earlier: dict[str, int] = defaultdict(int)
    for record in sent:
        vector = rows[record["transaction_id"]]["features"]
        assert len(vector) == len(FEATURES)
        assert vector[COLUMN["amount"]] == record["amount"]
        assert vector[COLUMN["history_count"]] == earlier[record["user_id"]]
        earlier[record["user_id"]] += 1
    # the scores a model computes from the logged vectors are the scores that were published
    matrix = np.array([rows[s["transaction_id"]]["features"] for s in scores])
    assert model.predict(matrix).tolist() == [s["score"] for s in scores]


def test_with_the_feature_log_off_nothing_is_logged(settings: Settings, tmp_path: Path) -> None:
    off = settings.with_overrides(detector={"feature_log": False})
    create_topics(off)
    sent = transactions(300, users=30, seed=12)
    produce(off, sent)
    process = detect(off, "--until-idle", "3")
    finish(process)
    assert len(read_all(off, "fraud-scores", expect=len(sent))) == len(sent)
    assert read_all(off, "decision-features") == []
