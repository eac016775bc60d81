"""Scoring a batch: rules, the current model, decisions and explanations, all batched.

The model comes from a :class:`~stream_sentinel.detector.models.ModelSource`, which changes it
only between batches. In a split experiment two models decide one batch
(:func:`score_split`): each row by the model of its user's arm.
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

Contributions = dict[int, list[tuple[str, float]]]  # row -> top features (risky rows)


@dataclass(frozen=True, slots=True)
class ShadowScores:
    """A batch scored by the shadow model beside the champion (it decides nothing)."""

    version: str
    scores: np.ndarray  # [n] its fraud probabilities
    levels: np.ndarray  # [n] RiskLevel indexes by its own bands


@dataclass(frozen=True, slots=True)
class Split:
    """A batch of a split experiment: who decided each row, and what the model of the other
    arm scored it (both models scored every row, on the same feature matrix)."""

    arms: np.ndarray  # [n] int8: 0 the champion decided the row, 1 the challenger
    versions: tuple[str, str]  # the model of each arm: (champion, challenger)
    other_scores: np.ndarray  # [n] the other arm's model's fraud probability of each row
    other_levels: np.ndarray  # [n] its RiskLevel index by its own bands


@dataclass(slots=True)
class Scored:
    """Per-transaction results of one batch."""

    outcome: Decisions
    fired: np.ndarray  # [n, len(BEHAVIOUR_RULES)]
    control: ControlFlags
    model_version: str | None  # the deciding model (a split batch: arm 0's, see ``split``)
    contributions: Contributions
    #: The experiment running when the batch was decided (its FraudScores and feature-log rows
    #: say so), and the shadow's scores: in shadow mode the champion decides every row, arm 0.
    experiment: str | None = None
    shadow: ShadowScores | None = None
    #: A split experiment's batch whose challenger scored: each row's arm decided it.
    split: Split | None = None

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
    features: np.ndarray,
    control: ControlFlags,
    model: ServingModel | None,
    settings: Settings,
    scores: np.ndarray | None = None,
) -> Scored:
    """Rules and model over the whole batch at once; explanations only for the risky rows
    (``scores``: the model's, when the caller has them already)."""
    detector = settings.detector
    fired = evaluate(features, detector.rules)
    if scores is None and model is not None:
        scores = model.predict(features)
    outcome = decide(scores, model.bands if model else None, fired, control, policy_of(settings))
    contributions: Contributions = {}
    if model is not None:
        risky = np.flatnonzero(outcome.levels >= int(RiskLevel(detector.contributions_from)))
        contributions = _explained(model, features, risky, settings)
    return Scored(outcome, fired, control, model.version if model else None, contributions)


def score_split(
    features: np.ndarray,
    control: ControlFlags,
    models: tuple[ServingModel, ServingModel],
    scores: tuple[np.ndarray, np.ndarray],
    arms: np.ndarray,
    settings: Settings,
) -> Scored:
    """A split batch: ``models`` (champion, challenger) scored every row (``scores``), and
    each row is decided by the model of its ``arms`` entry: its level by that model's bands
    and the same rules and policy, its explanation by that model."""
    fired = evaluate(features, settings.detector.rules)
    policy = policy_of(settings)
    champion, challenger = (
        decide(s, m.bands, fired, control, policy) for m, s in zip(models, scores, strict=True)
    )
    by_challenger = arms == 1
    outcome = Decisions(
        np.where(by_challenger, challenger.scores, champion.scores),
        np.where(by_challenger, challenger.levels, champion.levels),
        np.where(by_challenger, challenger.decisions, champion.decisions),
        np.where(by_challenger, challenger.alerts, champion.alerts),
    )
    risky = outcome.levels >= int(RiskLevel(settings.detector.contributions_from))
    contributions = {
        **_explained(models[0], features, np.flatnonzero(risky & ~by_challenger), settings),
        **_explained(models[1], features, np.flatnonzero(risky & by_challenger), settings),
    }
    levels = [m.bands.levels(s) for m, s in zip(models, scores, strict=True)]
    split = Split(
        arms,
        (models[0].version, models[1].version),
        np.where(by_challenger, scores[0], scores[1]),
        np.where(by_challenger, levels[0], levels[1]),
    )
    return Scored(outcome, fired, control, models[0].version, contributions, split=split)


def _explained(
    model: ServingModel, features: np.ndarray, rows: np.ndarray, settings: Settings
) -> Contributions:
    """The top feature contributions of ``model`` for ``rows`` (none asked: none computed)."""
    if not len(rows):
        return {}
    explained = model.contributions(features[rows], settings.detector.top_contributions)
    return dict(zip(rows.tolist(), explained, strict=True))
