"""Where an experiment stands, from its counters: each arm's traffic and recall, the test's
evidence, the guard rails, and what the rule would do now.

The counters (kept in DB5, each input counted once) are named ``"{arm}:{counter}"`` with arm 0
the champion and 1 the challenger: ``rows``, ``alerts``, ``declines`` and ``scoring_us`` count
decisions without labels; ``frauds`` and ``caught`` count the labelled frauds an arm decided and
how many it flagged at the champion's alert budget, ``flagged`` the rows it flagged whose label
deadline has passed (so ``caught / flagged`` is its precision). In shadow mode both models score
the same frauds, so the paired counters ``pair:n``, ``pair:sum`` and ``pair:squares`` hold the
per-fraud differences (challenger caught minus champion caught), their sum and their sum of squares.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from stream_sentinel.logic.experiments.definition import Experiment
from stream_sentinel.logic.experiments.guardrails import ArmTraffic, Breach, Limits, breaches
from stream_sentinel.logic.experiments.rule import Outcome, Rule, decide
from stream_sentinel.logic.experiments.sequential import (
    Estimate,
    Evidence,
    evidence,
    paired,
    projected_labels,
    two_sample,
)

DAY_MS = 86_400_000


@dataclass(frozen=True)
class ArmRecall:
    frauds: int
    caught: int
    flagged: int = 0  # rows it flagged whose deadline has passed (precision's denominator)

    @property
    def recall(self) -> float | None:
        return self.caught / self.frauds if self.frauds else None

    @property
    def precision(self) -> float | None:
        """Of the rows it flagged, the share that were fraud at their deadline."""
        return self.caught / self.flagged if self.flagged else None


@dataclass(frozen=True)
class Standing:
    traffic: tuple[ArmTraffic, ArmTraffic]
    recall: tuple[ArmRecall, ArmRecall]
    evidence: Evidence
    breached: list[Breach]
    outcome: Outcome
    projected_labels: int | None  # labels until a verdict if the difference holds


def _arm(counts: Mapping[str, float], arm: int) -> tuple[ArmTraffic, ArmRecall]:
    def get(name: str) -> float:
        return counts.get(f"{arm}:{name}", 0.0)

    traffic = ArmTraffic(
        int(get("rows")), int(get("alerts")), int(get("declines")), get("scoring_us")
    )
    return traffic, ArmRecall(int(get("frauds")), int(get("caught")), int(get("flagged")))


def estimate_of(experiment: Experiment, counts: Mapping[str, float]) -> Estimate:
    """The difference in recall the counters show, by the experiment's design."""
    if experiment.mode == "shadow":
        return paired(
            int(counts.get("pair:n", 0)),
            counts.get("pair:sum", 0.0),
            counts.get("pair:squares", 0.0),
        )
    _, first = _arm(counts, 0)
    _, second = _arm(counts, 1)
    return two_sample(first.caught, first.frauds, second.caught, second.frauds)


def standing(
    experiment: Experiment,
    counts: Mapping[str, float],
    rule: Rule,
    limits: Limits,
    now_ms: int,
) -> Standing:
    """Everything `experiments status` shows and the service acts on."""
    champion, champion_recall = _arm(counts, 0)
    challenger, challenger_recall = _arm(counts, 1)
    found = estimate_of(experiment, counts)
    proof = evidence(found, rule.mde, rule.alpha)
    breached = breaches(champion, challenger, limits)
    if experiment.mode == "shadow":
        labels = (found.labels, found.labels)
    else:
        labels = (champion_recall.frauds, challenger_recall.frauds)
    until = now_ms if experiment.ended_ms is None else experiment.ended_ms
    days = (until - experiment.created_ms) / DAY_MS
    outcome = decide(proof, rule, labels, breached, days)
    ahead = (
        None if proof.decided else projected_labels(found, rule.mde, rule.alpha, rule.max_labels)
    )
    return Standing(
        (champion, challenger),
        (champion_recall, challenger_recall),
        proof,
        breached,
        outcome,
        ahead,
    )
