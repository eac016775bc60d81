"""The decision rule: what an experiment does next, from its evidence and its guard rails.

In order: a breached guard rail stops the experiment at once (all traffic back to the champion);
a decided test promotes a better challenger or retires a worse one, once each arm has at least
``min_labels`` labelled frauds; reaching the maximum labels or days stops it with the champion
in place; otherwise it goes on.

>>> from stream_sentinel.logic.experiments.sequential import Evidence
>>> better = Evidence(900, 0.06, (0.01, 0.11), 3.2, 3.0, "better")
>>> decide(better, Rule(), labels=(450, 450), breached=[], days=12.0)
Outcome(action='promote', reason='challenger better: recall +6.0 pts (0.01 to 0.11), 900 labels')
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from stream_sentinel.logic.experiments.guardrails import Breach
from stream_sentinel.logic.experiments.sequential import Evidence


@dataclass(frozen=True)
class Rule:
    """The test's level, the effect it is tuned for, and the experiment's limits."""

    alpha: float = 0.05
    mde: float = 0.05  # minimum detectable effect on the primary metric (recall, absolute)
    min_labels: int = 100  # labelled frauds each arm needs before a verdict counts
    max_labels: int = 20_000
    max_days: float = 180.0


@dataclass(frozen=True)
class Outcome:
    action: str  # "continue", "promote", "retire" or "stop"
    reason: str


def decide(
    evidence: Evidence,
    rule: Rule,
    labels: Sequence[int],
    breached: Sequence[Breach],
    days: float,
) -> Outcome:
    """The next step of one experiment (``labels``: labelled frauds per arm)."""
    if breached:
        return Outcome("stop", "guard rail: " + "; ".join(b.message() for b in breached))
    if evidence.decided and min(labels) >= rule.min_labels:
        low, high = evidence.interval
        detail = (
            f"recall {evidence.estimate * 100:+.1f} pts ({low:.2f} to {high:.2f}), "
            f"{evidence.labels} labels"
        )
        if evidence.verdict == "better":
            return Outcome("promote", f"challenger better: {detail}")
        return Outcome("retire", f"challenger worse: {detail}")
    if evidence.labels >= rule.max_labels:
        return Outcome("stop", f"no decision after {evidence.labels} labels: champion stays")
    if days >= rule.max_days:
        return Outcome("stop", f"no decision after {days:.0f} days: champion stays")
    return Outcome("continue", "collecting labels")
