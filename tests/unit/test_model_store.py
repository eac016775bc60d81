"""Model artifacts: deterministic training, safe text storage, the current pointer."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
import pytest

from stream_sentinel.config import load_settings
from stream_sentinel.domain import RiskLevel
from stream_sentinel.errors import ModelError
from stream_sentinel.logic.features import COLUMN, FEATURES
from stream_sentinel.logic.offline import Replayed
from stream_sentinel.scoring.model import ModelArtifact, choose_bands
from stream_sentinel.scoring.store import ModelStore
from stream_sentinel.scoring.train import train


def history(rows: int = 3000, seed: int = 1) -> Replayed:
    """Synthetic features where fraud has large amounts: learnable, deterministic."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, len(FEATURES)))
    y = (rng.random(rows) < 0.05).astype(np.int8)
    x[:, COLUMN["amount"]] += y * 4.0
    return Replayed(x, y, np.arange(rows, dtype=np.int64))


@cache
def tiny_model() -> ModelArtifact:
    artifact, _ = train(history(), load_settings(environ={}).detector.band_rates, rounds=10)
    return artifact


def test_training_is_deterministic_and_reports_on_held_out_rows() -> None:
    rates = load_settings(environ={}).detector.band_rates
    first, report = train(history(), rates, rounds=10)
    second, _ = train(history(), rates, rounds=10)
    assert first.version == second.version
    assert first.booster.model_to_string() == second.booster.model_to_string()
    assert (report.train_rows, report.test_rows) == (2400, 600)
    assert report.auc > 0.9  # the planted signal is strong
    # one row per band, lowest threshold first; tied scores make the rates approximate
    rates = [t["alert_rate"] for t in report.thresholds]
    assert rates == pytest.approx([0.1, 0.02, 0.005, 0.001], abs=0.003)
    assert rates == sorted(rates, reverse=True)


def test_too_little_history_is_refused_with_advice() -> None:
    data = history(rows=50)
    with pytest.raises(ModelError, match="not enough labelled history"):
        train(data, {RiskLevel.MEDIUM: 0.02})


def test_store_publishes_versions_and_moves_the_pointer(tmp_path: Path) -> None:
    store = ModelStore(tmp_path)
    assert store.current_version() is None and store.load_current() is None
    model = tiny_model()
    store.publish(model, make_current=False)
    assert store.versions() == [model.version] and store.current_version() is None
    store.promote(model.version)
    loaded = store.load_current()
    assert loaded is not None and loaded.version == model.version
    x = history(rows=200).features
    np.testing.assert_allclose(loaded.predict(x), model.predict(x))
    assert loaded.bands == model.bands
    assert (tmp_path / model.version / "model.txt").read_text().startswith("tree")


def test_contributions_name_the_features_that_moved_the_score() -> None:
    x = history(rows=200).features
    x[0, COLUMN["amount"]] = 8.0
    [top] = tiny_model().contributions(x[:1], 3)
    assert top[0][0] == "amount" and top[0][1] > 0
    assert len(top) == 3


def test_a_model_for_another_feature_set_is_refused(tmp_path: Path) -> None:
    model = tiny_model()
    with pytest.raises(ModelError, match="names 36 features but its trees read 37"):
        ModelArtifact("old", model.booster, FEATURES[:-1], model.bands)
    with pytest.raises(ModelError, match=r"reads 1 feature\(s\) this version does not compute"):
        ModelArtifact("old", model.booster, ("velocity_30s", *FEATURES[1:]), model.bands)
    store = ModelStore(tmp_path)
    with pytest.raises(ModelError, match="no model 'nope'"):
        store.load("nope")


def test_bands_hit_their_target_rates() -> None:
    scores = np.linspace(0, 1, 10_001)
    bands = choose_bands(scores, {RiskLevel.HIGH: 0.01, RiskLevel.MEDIUM: 0.1})
    assert (scores >= bands.thresholds[RiskLevel.HIGH]).mean() == pytest.approx(0.01, abs=2e-4)
    assert (scores >= bands.thresholds[RiskLevel.MEDIUM]).mean() == pytest.approx(0.1, abs=2e-4)
