"""The online model kind (``river-logreg``) in the registry and the detector, on the embedded
backends: registered as its JSON state, loaded back verified, served as champion (each
FraudScore names its version), and a version of a kind nobody serves refused."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from functools import cache

import numpy as np
import pytest

from stream_sentinel.clock import ManualClock
from stream_sentinel.domain import RiskLevel
from stream_sentinel.errors import ModelError
from stream_sentinel.learning import keys
from stream_sentinel.learning.models import artifact_of, draft_of, load_model
from stream_sentinel.learning.registry import ModelRegistry
from stream_sentinel.logic.decisions import Bands
from stream_sentinel.logic.features import FEATURES
from stream_sentinel.scoring.online import OnlineLogReg
from stream_sentinel.scoring.online_artifact import OnlineArtifact
from stream_sentinel.state.base import Batch
from stream_sentinel.state.memory import MemoryStateStore
from tests.unit.test_detector_embedded import Pipeline, pipeline
from tests.unit.test_model_hot_reload import DAY_MS, Served, model
from tests.unit.test_model_store import history

pytestmark = pytest.mark.unit
__all__ = ["pipeline"]
BANDS = Bands({RiskLevel.MEDIUM: 0.2, RiskLevel.HIGH: 0.5, RiskLevel.CRITICAL: 0.9})


@cache
def online(rows: int = 2000) -> OnlineArtifact:
    data = history()
    learner = OnlineLogReg(FEATURES)
    for values, label in zip(data.features[:rows], data.labels[:rows], strict=True):
        learner.learn_one(values, bool(label))
    state = learner.to_bytes()
    version = "m-" + hashlib.sha256(state).hexdigest()[:12]
    window = {"start_ms": 0, "end_ms": 10, "validation_start_ms": 10, "validation_end_ms": 20}
    metadata = {"params": dict(learner.params), "window": window | {"rows": rows, "frauds": 7}}
    return OnlineArtifact(version, learner, FEATURES, BANDS, metadata)


def test_an_online_version_round_trips_through_the_registry() -> None:
    registry = ModelRegistry(MemoryStateStore(), ManualClock(1_700_000_000_000))
    artifact = online()
    version, new = registry.register(*draft_of(artifact, DAY_MS, created_by="learn"))
    assert new and version.version == artifact.version
    assert (version.kind, version.artifact.format) == ("river-logreg", "river-logreg-json")
    assert version.params == {"lr": 0.01, "l2": 0.0, "intercept_lr": 0.01, "clip_gradient": 1e12}
    assert version.bands == {"MEDIUM": 0.2, "HIGH": 0.5, "CRITICAL": 0.9}
    assert (version.window.rows, version.window.frauds) == (2000, 7)
    assert registry.artifact(version) == artifact.model.to_bytes()
    loaded = load_model(registry, version.version)
    assert isinstance(loaded, OnlineArtifact)
    assert (loaded.version, loaded.kind, loaded.bands) == (artifact.version, "river-logreg", BANDS)
    x = history(200, seed=5).features
    assert np.array_equal(loaded.predict(x), artifact.predict(x))
    assert loaded.contributions(x[:3], 2) == artifact.contributions(x[:3], 2)
    assert registry.register(*draft_of(artifact, DAY_MS))[1] is False  # same bytes, one version


def test_a_version_of_a_kind_nobody_serves_is_refused_with_a_model_error() -> None:
    registry = ModelRegistry(MemoryStateStore(), ManualClock(1_700_000_000_000))
    version, _ = registry.register(*draft_of(online(), DAY_MS))
    data = registry.artifact(version)
    with pytest.raises(ModelError) as refused:
        artifact_of(replace(version, kind="xgboost"), data)
    assert str(refused.value) == (
        f"model {version.version} is of kind 'xgboost', which this version of Stream-Sentinel "
        "cannot serve (it serves lightgbm, river-logreg)"
    )
    with pytest.raises(ModelError, match=f"model {version.version} is not a river-logreg state"):
        artifact_of(version, b"tree\nversion=v4\n")


def test_a_detector_scores_with_an_online_champion_and_names_it(pipeline: Pipeline) -> None:
    served = Served(pipeline)
    artifact = online()
    version, _ = served.registry.register(*draft_of(artifact, DAY_MS))
    served.registry.promote(version.version, reason="online", actor="test")
    served.start()
    served.batch(3)
    assert served.versions() == [version.version] * 3
    scores = {s["transaction_id"]: s for s in pipeline.read("fraud-scores")}
    logged = pipeline.read("decision-features")
    vectors = np.array([row["features"] for row in logged], dtype=np.float64)
    expected = artifact.predict(vectors)
    for row, score in zip(logged, expected, strict=True):
        assert scores[row["transaction_id"]]["score"] == pytest.approx(score, abs=1e-12)
        assert row["model_version"] == version.version
    assert served.models.state.version == version.version


def test_a_detector_swaps_between_the_two_kinds_and_refuses_an_unknown_one(
    pipeline: Pipeline,
) -> None:
    served = Served(pipeline)
    batch_version = served.register(10)
    online_version, _ = served.registry.register(*draft_of(online(), DAY_MS))
    served.registry.promote(batch_version, reason="first", actor="test")
    served.start()
    served.batch()
    served.registry.promote(online_version.version, reason="online wins", actor="test")
    served.batch()
    assert served.versions() == [batch_version] * 2 + [online_version.version] * 2
    record = json.loads(
        pipeline.backends.state.execute(Batch().get(keys.MODELS, keys.model(batch_version)))[0]
    )
    record["kind"] = "xgboost"  # a version a newer release registered
    pipeline.backends.state.execute(
        Batch().set(keys.MODELS, keys.model(batch_version), json.dumps(record).encode())
    )
    served.models._recent.clear()  # not kept in memory: it must be loaded
    served.registry.promote(batch_version, reason="back", actor="test")
    served.batch()
    assert served.versions()[-2:] == [online_version.version] * 2
    assert served.models.state.error == (
        f"cannot load {batch_version}: model {batch_version} is of kind 'xgboost', which this "
        "version of Stream-Sentinel cannot serve (it serves lightgbm, river-logreg); still "
        f"scoring with {online_version.version}"
    )
    assert model(10).kind == "lightgbm"
