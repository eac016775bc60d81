"""From scores and rules to risk levels, decisions and alerts: pure and vectorised.

The risk level is the model's band, raised to the level of any rule that fired (each rule has a
floor in settings). Without a model, rules alone decide and the score is the level's nominal
score. Control state overrides: a blocked user is declined, a user who must step up gets at
least a CHALLENGE, a watched user alerts from a lower level.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from stream_sentinel.domain import Decision, RiskLevel
from stream_sentinel.logic.rules import BEHAVIOUR_RULES, ControlFlags

#: The score a rules-only decision reports for each level.
RULES_ONLY_SCORE = {
    RiskLevel.MINIMAL: 0.01,
    RiskLevel.LOW: 0.2,
    RiskLevel.MEDIUM: 0.5,
    RiskLevel.HIGH: 0.8,
    RiskLevel.CRITICAL: 0.95,
}
DECISIONS: tuple[Decision, ...] = tuple(Decision)
#: Severity order of decisions (CHALLENGE stops the payment until the user authenticates).
_SEVERITY = {Decision.APPROVE: 0, Decision.REVIEW: 1, Decision.CHALLENGE: 2, Decision.DECLINE: 3}


@dataclass(frozen=True, slots=True)
class Bands:
    """Minimum score of each risk level (levels below the lowest threshold are MINIMAL)."""

    thresholds: Mapping[RiskLevel, float]

    def levels(self, scores: np.ndarray) -> np.ndarray:
        out = np.full(len(scores), int(RiskLevel.MINIMAL), dtype=np.int8)
        for level in sorted(self.thresholds):  # ascending, so the highest band wins
            out[scores >= self.thresholds[level]] = int(level)
        return out

    def to_json(self) -> dict[str, float]:
        return {level.name: float(t) for level, t in sorted(self.thresholds.items())}

    @classmethod
    def from_json(cls, data: Mapping[str, float]) -> Bands:
        return cls({RiskLevel[name]: float(t) for name, t in data.items()})


@dataclass(slots=True)
class Decisions:
    """Per-transaction outcome arrays of one batch."""

    scores: np.ndarray  # float64
    levels: np.ndarray  # int8 RiskLevel
    decisions: np.ndarray  # int8 index into DECISIONS
    alerts: np.ndarray  # bool


@dataclass(frozen=True, slots=True)
class DecisionPolicy:
    """What turns risk into action: each rule's floor level, the decision per level, and the
    level that raises an alert (lower for watched users). Built from settings at the edge."""

    rule_floors: Mapping[str, RiskLevel]
    decisions: Mapping[RiskLevel, Decision]
    alert_level: RiskLevel
    watch_alert_level: RiskLevel


def decide(
    scores: np.ndarray | None,
    bands: Bands | None,
    fired: np.ndarray,
    control: ControlFlags,
    policy: DecisionPolicy,
) -> Decisions:
    """Risk level, decision and alert flag for every transaction of a batch."""
    count = fired.shape[0]
    if scores is not None and bands is not None:
        levels = bands.levels(scores)
    else:
        levels = np.full(count, int(RiskLevel.MINIMAL), dtype=np.int8)
    for i, rule in enumerate(BEHAVIOUR_RULES):
        floor = policy.rule_floors.get(rule)
        if floor is not None:
            levels = np.where(fired[:, i], np.maximum(levels, int(floor)), levels).astype(np.int8)
    if scores is None:
        nominal = np.array([RULES_ONLY_SCORE[RiskLevel(i)] for i in range(len(RiskLevel))])
        scores = nominal[levels]
    decided = _decisions(levels, control, policy.decisions)
    alert_from = np.where(control.watched, int(policy.watch_alert_level), int(policy.alert_level))
    return Decisions(scores, levels, decided, levels >= alert_from)


def _decisions(
    levels: np.ndarray, control: ControlFlags, table: Mapping[RiskLevel, Decision]
) -> np.ndarray:
    by_level = np.array([DECISIONS.index(table[RiskLevel(i)]) for i in range(len(RiskLevel))])
    decided = by_level[levels]
    challenge, decline = DECISIONS.index(Decision.CHALLENGE), DECISIONS.index(Decision.DECLINE)
    severity = np.array([_SEVERITY[d] for d in DECISIONS])
    weaker = severity[decided] < _SEVERITY[Decision.CHALLENGE]
    decided = np.where(control.step_up & weaker, challenge, decided)
    decided = np.where(control.blocked, decline, decided)
    return decided.astype(np.int8)
