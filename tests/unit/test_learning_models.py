"""Trained models into the registry and back: the bytes LightGBM wrote, scoring unchanged."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from stream_sentinel.clock import ManualClock
from stream_sentinel.errors import ArtifactCorrupt, ModelError
from stream_sentinel.learning import keys
from stream_sentinel.learning.models import champion_model, draft_of, load_model, metrics_of
from stream_sentinel.learning.registry import ModelRegistry
from stream_sentinel.learning.versions import FeatureSet
from stream_sentinel.logic.features import FEATURES
from stream_sentinel.scoring.model import ModelArtifact
from stream_sentinel.state.base import Batch
from stream_sentinel.state.memory import MemoryStateStore
from tests.unit.test_model_store import history, tiny_model


def test_a_trained_model_registers_under_its_own_version_with_its_training_facts() -> None:
    model = tiny_model()
    draft, data = draft_of(model, label_delay_ms=86_400_000)
    version, _ = ModelRegistry(MemoryStateStore(), ManualClock()).register(draft, data)
    assert version.version == model.version  # train's id was already the text's content hash
    assert version.feature_set == FeatureSet.of("live", FEATURES)
    assert (version.window.rows, version.window.label_delay_ms) == (2400, 86_400_000)
    assert (version.window.start_ms, version.window.end_ms) == (0, 2399)
    assert (version.window.validation_start_ms, version.window.validation_end_ms) == (2400, 2999)
    assert version.window.frauds == int(history().labels[:2400].sum())
    assert version.metrics["roc_auc"] == model.metadata["report"]["roc_auc"]
    assert sorted(version.metrics["bands"]) == ["CRITICAL", "HIGH", "LOW", "MEDIUM"]
    assert version.params["rounds"] == 10 and version.params["num_leaves"] == 15


def test_the_champion_loads_verified_and_scores_as_the_trained_model() -> None:
    model = tiny_model()
    store = MemoryStateStore()
    registry = ModelRegistry(store, ManualClock())
    registry.register(*draft_of(model, 0))
    assert champion_model(registry) is None
    registry.promote(model.version)
    loaded = champion_model(registry)
    assert loaded is not None and loaded.version == model.version
    x = history(rows=200).features
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    assert loaded.bands == model.bands
    sha = registry.get(model.version).artifact.chunks[0]
    [chunk] = store.execute(Batch().get(keys.MODELS, keys.chunk(sha)))
    store.execute(Batch().set(keys.MODELS, keys.chunk(sha), chunk.replace(b"tree", b"TREE", 1)))
    with pytest.raises(ArtifactCorrupt, match=r"chunk 0 of artifact .* is corrupt"):
        load_model(registry, "champion")


def test_metrics_name_each_band_by_its_threshold() -> None:
    report = {
        "roc_auc": 0.9,
        "average_precision": 0.5,
        "thresholds": [
            {"threshold": 0.2, "alert_rate": 0.1, "precision": 0.3, "recall": 0.9},
            {"threshold": 0.7, "alert_rate": 0.01, "precision": 0.8, "recall": 0.4},
        ],
    }
    assert metrics_of(report, {"LOW": 0.2, "HIGH": 0.7}) == {
        "roc_auc": 0.9,
        "average_precision": 0.5,
        "bands": {
            "LOW": {"alert_rate": 0.1, "precision": 0.3, "recall": 0.9, "threshold": 0.2},
            "HIGH": {"alert_rate": 0.01, "precision": 0.8, "recall": 0.4, "threshold": 0.7},
        },
    }


#: The feature set of profile version 1 (29 features), before the 1/7/30-day windows.
VERSION_1_FEATURES = tuple(
    name
    for name in FEATURES
    if name
    not in {
        "count_30d",
        "sum_30d",
        "mean_24h",
        "mean_7d",
        "mean_30d",
        "merchant_volume_1d",
        "merchant_fraud_1d",
        "merchant_fraud_rate_1d",
    }
)


def test_a_champion_trained_on_the_previous_feature_set_keeps_scoring_on_its_own_columns() -> None:
    import lightgbm as lgb

    data = history()
    columns = [FEATURES.index(name) for name in VERSION_1_FEATURES]
    booster = lgb.train(
        {"objective": "binary", "num_leaves": 7, "verbose": -1, "num_threads": 1},
        lgb.Dataset(data.features[:, columns], data.labels, feature_name=list(VERSION_1_FEATURES)),
        num_boost_round=5,
    )
    old = ModelArtifact("m-old", booster, VERSION_1_FEATURES, tiny_model().bands)
    registry = ModelRegistry(MemoryStateStore(), ManualClock())
    version, _ = registry.register(*draft_of(old, 0))
    registry.promote(version.version)
    assert len(VERSION_1_FEATURES) == 29
    assert version.feature_set.hash != FeatureSet.of("live", FEATURES).hash
    served = champion_model(registry)
    rows = data.features[:50]  # the detector's matrix: all of today's features
    assert np.array_equal(served.predict(rows), booster.predict(rows[:, columns], num_threads=1))
    [top] = served.contributions(rows[:1], 3)
    assert {name for name, _ in top} <= set(VERSION_1_FEATURES)


def test_a_champion_reading_a_feature_no_longer_computed_is_refused_with_how_to_fix_it() -> None:
    model = tiny_model()
    registry = ModelRegistry(MemoryStateStore(), ManualClock())
    draft, data = draft_of(model, 0)
    gone = ("amount", "velocity_30s", *FEATURES[2:])
    version, _ = registry.register(replace(draft, feature_set=FeatureSet.of("live", gone)), data)
    registry.promote(version.version)
    with pytest.raises(ModelError) as refused:
        champion_model(registry)
    assert str(refused.value) == (
        f"model {version.version} reads 1 feature(s) this version does not compute "
        "(velocity_30s); retrain it (stream-sentinel train)"
    )
