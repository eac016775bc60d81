"""Scoring a batch: rules, the current model, decisions and explanations, all batched.

The model comes from a :class:`~stream_sentinel.detector.models.ModelSource`, which changes it
only between batches.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from stream_sentinel.config import Settings
from stream_sentinel.domain import RiskLevel
from stream_sentinel.logic.decisions import DecisionPolicy, Decisions, decide
from stream_sentinel.logic.rules import (
    BEHAVIOUR_RULES,
    STEP_UP_REQUIRED,
    USER_BLOCKED,
    WATCHED_USER,
    ControlFlags,
    evaluate,
)
from stream_sentinel.scoring.serving import ServingModel

_REASON_NAMES = (USER_BLOCKED, STEP_UP_REQUIRED, WATCHED_USER, *BEHAVIOUR_RULES)


@dataclass(frozen=True, slots=True)
class ShadowScores:
    """A batch scored by the shadow model beside the champion (it decides nothing)."""

    version: str
    scores: np.ndarray  # [n] its fraud probabilities
    levels: np.ndarray  # [n] RiskLevel indexes by its own bands


@dataclass(slots=True)
class Scored:
    """Per-transaction results of one batch."""

    outcome: Decisions
    fired: np.ndarray  # [n, len(BEHAVIOUR_RULES)]
    control: ControlFlags
    model_version: str | None
    contributions: dict[int, list[tuple[str, float]]]  # row -> top features (risky rows)
    #: The experiment running when the batch was decided (its FraudScores and feature-log rows
    #: say so, arm 0: in shadow mode the champion decides every row), and the shadow's scores.
    experiment: str | None = None
    shadow: ShadowScores | None = None

    def reasons(self) -> list[Sequence[str]]:
        """For each row, what fired: control reasons first, then rules (most rows: none)."""
        control = self.control
        flags = np.column_stack([control.blocked, control.step_up, control.watched, self.fired])
        out: list[Sequence[str]] = [()] * len(flags)
        for row in np.flatnonzero(flags.any(axis=1)).tolist():
            out[row] = [_REASON_NAMES[j] for j in np.flatnonzero(flags[row]).tolist()]
        return out


def policy_of(settings: Settings) -> DecisionPolicy:
    """The decision policy of these settings (the pure logic takes no settings object)."""
    detector = settings.detector
    return DecisionPolicy(
        rule_floors=detector.rules.levels,
        decisions=detector.decisions,
        alert_level=detector.alert_level,
        watch_alert_level=settings.alerts.watch_alert_level,
    )


def score_batch(
    features: np.ndarray, control: ControlFlags, model: ServingModel | None, settings: Settings
) -> Scored:
    """Rules and model over the whole batch at once; explanations only for the risky rows."""
    detector = settings.detector
    fired = evaluate(features, detector.rules)
    scores = model.predict(features) if model is not None else None
    outcome = decide(scores, model.bands if model else None, fired, control, policy_of(settings))
    contributions: dict[int, list[tuple[str, float]]] = {}
    if model is not None:
        risky = np.flatnonzero(outcome.levels >= int(RiskLevel(detector.contributions_from)))
        if len(risky):
            explained = model.contributions(features[risky], detector.top_contributions)
            contributions = dict(zip(risky.tolist(), explained, strict=True))
    return Scored(outcome, fired, control, model.version if model else None, contributions)
