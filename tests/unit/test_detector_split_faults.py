"""Split mode when the challenger misbehaves: explanations that raise, a failure in an earlier
experiment, a version held for another experiment's alias."""

from __future__ import annotations

import numpy as np
import pytest

from stream_sentinel.learning.aliases import SHADOW
from stream_sentinel.logic.experiments.definition import Experiment
from tests.unit.test_detector_embedded import NOW
from tests.unit.test_detector_split import EXPERIMENT, SplitRig
from tests.unit.test_model_hot_reload import CHECK_S

pytestmark = pytest.mark.unit


def test_a_split_challenger_whose_explanations_raise_decides_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A challenger whose ``predict`` works but whose ``contributions`` raises must not stop
    the detector: the champion decides every row, as when its ``predict`` raises."""
    rig = SplitRig()
    rig.start_experiment()
    rig.worker.start()
    served = rig.challenger_models.models.current
    assert served is not None and served.version == rig.challenger

    def broken(features: np.ndarray, top: int) -> list[list[tuple[str, float]]]:
        raise ValueError("no explainer for this model")

    monkeypatch.setattr(served, "contributions", broken)
    rig.batch()
    scores = rig.read("fraud-scores")
    assert len(scores) == 16
    assert {s["model_version"] for s in scores} == {rig.champion}
    assert {(s["experiment_id"], s["arm"]) for s in scores} == {(EXPERIMENT, 0)}


def test_a_challenger_dropped_in_one_experiment_is_tried_again_in_the_next(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A version whose ``predict`` raised is not used again in that experiment, and says why;
    a new experiment naming it tries it again (the failure may have been passing)."""
    rig = SplitRig()
    rig.start_experiment()
    rig.worker.start()
    served = rig.challenger_models.models.current
    assert served is not None
    calls = {"n": 0}
    predict = served.predict

    def once_broken(features: np.ndarray) -> np.ndarray:
        calls["n"] += 1
        if calls["n"] == 1:
            raise MemoryError("transient")
        return predict(features)

    monkeypatch.setattr(served, "predict", once_broken)
    rig.batch()  # predict raised: dropped
    dropped = rig.worker.summary()["shadow"]
    assert (dropped["version"], dropped["error"]) == (
        None,
        f"challenger {rig.challenger} cannot score (transient); not used in this experiment",
    )
    rig.experiments.end(EXPERIMENT, "stopped", "retry", "cli:ana")
    again = Experiment.new(
        "exp-again", "split", rig.champion, rig.challenger, 0.5, NOW, "cli:ana", ""
    )
    rig.experiments.start(again)
    rig.clock.advance(CHECK_S + 1)
    rig.batch()
    status = rig.worker.summary()["shadow"]
    assert status["experiment_id"] == "exp-again"
    assert (status["version"], status["error"]) == (rig.challenger, None)
    latest = rig.read("fraud-scores")[-8:]
    assert {s["experiment_id"] for s in latest} == {"exp-again"}
    assert {s["model_version"] for s in latest if s["arm"] == 1} == {rig.challenger}


def test_a_split_challenger_the_challenger_alias_does_not_point_at_decides_nothing() -> None:
    """A version still held from a shadow experiment does not decide arm 1 of the next (split)
    experiment until the `challenger` alias points at it: the champion decides every row."""
    rig = SplitRig()
    shadow = Experiment.new(
        "exp-shadow", "shadow", rig.champion, rig.challenger, None, NOW, "a", ""
    )
    rig.experiments.start(shadow)
    rig.registry.promote(rig.challenger, SHADOW, "experiment exp-shadow", "cli:ana")
    rig.worker.start()
    rig.batch()
    rig.experiments.end("exp-shadow", "stopped", "switch to split", "cli:ana")
    split = Experiment.new(EXPERIMENT, "split", rig.champion, rig.challenger, 0.5, NOW, "a", "")
    rig.experiments.start(split)  # the `challenger` alias is never moved to it
    rig.clock.advance(CHECK_S + 1)
    rig.batch()
    later = rig.read("fraud-scores")[16:]
    assert {(s["experiment_id"], s["arm"]) for s in later} == {(EXPERIMENT, 0)}
    assert {s["model_version"] for s in later} == {rig.champion}
