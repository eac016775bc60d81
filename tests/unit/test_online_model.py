"""The online model (River StandardScaler + LogisticRegression): learning, its JSON state round
trip, missing values, and the served snapshot's scores and explanations."""

from __future__ import annotations

import json

import numpy as np
import pytest

from stream_sentinel.domain import RiskLevel
from stream_sentinel.errors import ModelError
from stream_sentinel.logic.decisions import Bands
from stream_sentinel.logic.features import FEATURES
from stream_sentinel.scoring.online import MISSING, OnlineLogReg
from stream_sentinel.scoring.online_artifact import OnlineArtifact

pytestmark = pytest.mark.unit
WIDTH = len(FEATURES)


def rows(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Fraud moves the first feature up by 3; one value in ten is missing (NaN)."""
    rng = np.random.default_rng(seed)
    y = rng.random(count) < 0.1
    x = rng.normal(size=(count, WIDTH))
    x[:, 0] += 3.0 * y
    x[rng.random((count, WIDTH)) < 0.1] = np.nan
    return x, y


def learned(count: int, seed: int = 1) -> OnlineLogReg:
    model = OnlineLogReg(FEATURES)
    x, y = rows(count, seed)
    for values, fraud in zip(x, y, strict=True):
        model.learn_one(values, bool(fraud))
    return model


def test_a_restored_state_predicts_and_keeps_learning_exactly_as_the_original() -> None:
    original = learned(400)
    restored = OnlineLogReg.from_bytes(original.to_bytes())
    assert restored.to_bytes() == original.to_bytes()
    x, y = rows(300, seed=2)
    for values in x[:50]:
        assert restored.predict_one(values) == original.predict_one(values)
    for values, fraud in zip(x, y, strict=True):
        original.learn_one(values, bool(fraud), weight=2.0 if fraud else 1.0)
        restored.learn_one(values, bool(fraud), weight=2.0 if fraud else 1.0)
    assert restored.to_bytes() == original.to_bytes()
    assert [restored.predict_one(v) for v in x] == [original.predict_one(v) for v in x]
    assert (original.learned, original.learned_weight) == (700, 700 + float(y.sum()))


def test_the_state_is_documented_json_with_scaler_regression_and_optimizer_step() -> None:
    state = json.loads(learned(200).to_bytes())
    assert sorted(state) == [
        "features",
        "format",
        "format_version",
        "learned",
        "learned_weight",
        "params",
        "regression",
        "scaler",
    ]
    assert (state["format"], state["format_version"]) == ("river-logreg-json", 1)
    assert state["features"] == list(FEATURES)
    assert state["params"] == {"lr": 0.01, "l2": 0.0, "intercept_lr": 0.01, "clip_gradient": 1e12}
    assert sorted(state["scaler"]) == ["counts", "means", "vars"]
    assert state["regression"]["n_iterations"] == 200
    assert set(state["regression"]["weights"]) == set(FEATURES) | {MISSING + f for f in FEATURES}


def test_a_missing_value_is_left_out_of_the_scaler_and_flagged_by_its_indicator() -> None:
    model = OnlineLogReg(("a", "b"))
    model.learn_one([1.0, float("nan")], True)
    model.learn_one([3.0, 2.0], False)
    model.learn_one([5.0, float("inf")], True)
    scaler = model.scaler
    assert dict(scaler.counts) == {"a": 3, "b": 1}
    assert (scaler.means["a"], scaler.means["b"]) == (3.0, 2.0)
    assert model._input(model.row([7.0, float("nan")])) == {
        "a": pytest.approx(4.0 / np.sqrt(8.0 / 3.0)),
        "missing:b": 1.0,
    }
    weights = model.regression._weights.to_dict()
    assert weights["missing:b"] > 0  # missing on two frauds, present on the legitimate row
    assert "missing:a" not in weights


def test_the_served_snapshot_scores_a_matrix_as_river_scores_each_row() -> None:
    model = learned(500)
    x, _ = rows(200, seed=3)
    bands = Bands({RiskLevel.HIGH: 0.5})
    served = OnlineArtifact("m-online", model, FEATURES, bands, {})
    expected = np.array([model.predict_one(values) for values in x])
    assert np.allclose(served.predict(x), expected, rtol=0, atol=1e-12)
    assert served.kind == "river-logreg" and served.predict(np.empty((0, WIDTH))).shape == (0,)
    model.learn_one(x[0], True)  # the learner keeps learning: the snapshot does not change
    assert np.allclose(served.predict(x), expected, rtol=0, atol=1e-12)
    assert served.artifact_bytes() != model.to_bytes()


def test_contributions_are_each_features_share_of_the_logit() -> None:
    model = learned(500)
    x, _ = rows(20, seed=4)
    served = OnlineArtifact("m-online", model, FEATURES, Bands({}), {})
    terms = model.coefficients().terms(x)
    logit = np.log(served.predict(x) / (1 - served.predict(x)))
    assert np.allclose(terms.sum(axis=1) + model.regression.intercept, logit, atol=1e-9)
    explained = served.contributions(x, 3)
    assert len(explained) == 20 and all(len(row) == 3 for row in explained)
    first = explained[0]
    top = np.argsort(-np.abs(terms[0]))[:3]
    assert first == [(FEATURES[j], float(terms[0, j])) for j in top]


def test_a_state_that_is_not_one_is_refused() -> None:
    with pytest.raises(ModelError, match="not a river-logreg-json state \\(not JSON\\)"):
        OnlineLogReg.from_bytes(b"tree\n")
    other = json.dumps({"format": "pickle", "format_version": 1}).encode()
    with pytest.raises(ModelError) as refused:
        OnlineLogReg.from_bytes(other)
    assert str(refused.value) == (
        "not a river-logreg-json state of version 1: format 'pickle' version 1"
    )
    state = json.loads(learned(10).to_bytes())
    del state["scaler"]
    with pytest.raises(ModelError, match="incomplete or malformed: KeyError\\('scaler'\\)"):
        OnlineLogReg.from_state(state)


def test_a_snapshot_of_another_feature_list_is_refused() -> None:
    with pytest.raises(ModelError, match="m-x learns features \\['a', 'b'\\]"):
        OnlineArtifact("m-x", OnlineLogReg(("a", "b")), FEATURES, Bands({}), {})
