"""An experiment on the embedded backends: two registered models, the experiments service, and
hand-made decisions and labels of known outcome (scores chosen above or below each model's
alerting threshold)."""

from __future__ import annotations

import random
from dataclasses import replace
from typing import Any

from stream_sentinel.clock import ManualClock
from stream_sentinel.config import Settings, load_settings
from stream_sentinel.learning.experiments.service import ExperimentService, experiment_service
from stream_sentinel.learning.experiments.store import ExperimentStore
from stream_sentinel.learning.models import draft_of
from stream_sentinel.logic.experiments.definition import Experiment
from stream_sentinel.logic.experiments.split import arm_of
from tests.unit.learner_support import DAY, HOUR, T0, Rig, feature_row, feedback
from tests.unit.test_model_hot_reload import DAY_MS, model

START = T0 + HOUR  # when the experiments start (wall time = event time here)
FLAGGED, QUIET = 0.95, 0.01  # a score every model flags at MEDIUM, and one none does


def settings_of(**experiments: str) -> Settings:
    environ = {"SENTINEL_EXPERIMENTS_LABEL_DEADLINE_DAYS": "1"}
    environ |= {f"SENTINEL_EXPERIMENTS_{k.upper()}": v for k, v in experiments.items()}
    return load_settings(environ=environ)


class Lab:
    """A stack with a champion and a challenger registered, and a way to run the service."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.rig = Rig(clock=ManualClock(START))
        self.settings = settings or settings_of()
        registry = self.rig.registry
        self.champion, _ = registry.register(*draft_of(model(10), DAY_MS))
        self.challenger, _ = registry.register(*draft_of(model(12), DAY_MS))
        self.champion_id, self.challenger_id = self.champion.version, self.challenger.version
        registry.promote(self.champion_id, actor="test")
        self.store = ExperimentStore(self.rig.backends.state, self.rig.clock)
        self.rng = random.Random(7)

    def start(
        self, mode: str = "shadow", share: float | None = None, deadline_ms: int | None = None
    ) -> Experiment:
        experiment = Experiment.new(
            "exp-test", mode, self.champion_id, self.challenger_id, share, START, "test", ""
        )
        return self.store.start(replace(experiment, label_deadline_ms=deadline_ms))

    def service(self) -> ExperimentService:
        rig = self.rig
        return experiment_service(
            self.settings,
            rig.backends.broker,
            rig.backends.state,
            rig.serde,
            rig.registry,
            clock=rig.clock,
            poll_timeout_s=0.01,
            grace_s=0.0,
        )

    def row(
        self,
        tx: str,
        at: int,
        champion: float | None,
        challenger: float | None,
        *,
        arm: int = 0,
        experiment: str | None = "exp-test",
        decision: str = "APPROVE",
        user: str | None = None,
    ) -> dict[str, Any]:
        """A decision-features row; ``champion``/``challenger``: each model's score (None: it
        did not score the row). In split mode the arm's model decides."""
        row = feature_row(tx, user or f"u-{tx}", at, False, self.rng)
        scores = [(self.champion_id, champion), (self.challenger_id, challenger)]
        (deciding, score), (other, other_score) = scores[arm], scores[1 - arm]
        row |= {
            "model_version": deciding if score is not None else None,
            "score": score if score is not None else 0.0,
            "decision": decision,
            "experiment_id": experiment,
            "arm": arm if experiment else None,
            "shadow_model_version": other if other_score is not None else None,
            "shadow_score": other_score,
            "shadow_risk_level": None,
        }
        return row


def user_in(arm: int, n: int = 0, shares: tuple[float, float] = (0.5, 0.5)) -> str:
    """The ``n``-th user id the split of ``exp-test`` puts in ``arm``."""
    found = [u for u in (f"user-{i}" for i in range(1000)) if arm_of("exp-test", u, shares) == arm]
    return found[n]


def label(
    tx: str, at: int, value: str = "FRAUD", source: str = "CHARGEBACK", after: int = 12 * HOUR
) -> dict[str, Any]:
    return feedback(tx, f"u-{tx}", at, value, source, after)


def drain(service: ExperimentService, quiet_steps: int = 3) -> None:
    """Step until nothing has been read for ``quiet_steps`` steps in a row."""
    quiet = 0
    while quiet < quiet_steps:
        quiet = 0 if service.step() else quiet + 1


__all__ = ["DAY", "FLAGGED", "HOUR", "QUIET", "START", "Lab", "drain", "label", "settings_of"]
