"""The Experiments page: every champion/challenger experiment DB5 records, and where one stands.

It reads through :class:`~stream_sentinel.learning.experiments.store.ExperimentStore` on the
console's state store and judges the counters with the code `experiments status` runs
(:func:`~stream_sentinel.logic.experiments.standing.standing`, under the rule and guard rails of
``settings.experiments``), so the page and the CLI never disagree. It writes nothing: experiments
start and stop in the CLI, where each step records its actor and reason.
"""

from __future__ import annotations

import math
from dataclasses import asdict
from typing import Any

from stream_sentinel.config.experiments import ExperimentSettings
from stream_sentinel.console.sources import ConsoleSources
from stream_sentinel.learning.experiments.policy import deadline_ms, limits_of, rule_of
from stream_sentinel.learning.experiments.store import ExperimentStore
from stream_sentinel.learning.experiments.tally import bucket_width
from stream_sentinel.learning.experiments.views import ARMS, counting_line, status_json
from stream_sentinel.logic.experiments.definition import Experiment
from stream_sentinel.logic.experiments.guardrails import ArmTraffic, Limits
from stream_sentinel.logic.experiments.rule import Rule
from stream_sentinel.logic.experiments.sequential import Evidence
from stream_sentinel.logic.experiments.standing import ArmRecall, Standing, standing

HOW_TO_START = (
    "No experiments yet: start one with `stream-sentinel experiments start --challenger "
    "VERSION` (add `--mode split --share 0.1` to let the challenger decide a share of users)."
)
READ_ONLY = (
    "Read-only: experiments start and stop in the CLI (`stream-sentinel experiments start` / "
    "`stop ID`), which records who did what and why."
)


def unknown(experiment_id: str) -> str:
    """What the page and the API say for an id DB5 does not hold."""
    return (
        f"No experiment {experiment_id!r} in DB5 (experiments): the Experiments page lists "
        "every one (`stream-sentinel experiments list`)."
    )


def rule_and_limits(settings: ExperimentSettings) -> tuple[Rule, Limits]:
    """The decision rule and guard rails `experiments status` and the service judge by."""
    return rule_of(settings), limits_of(settings)


def store(sources: ConsoleSources) -> ExperimentStore:
    return ExperimentStore(sources.state, sources.clock)


def summary(experiment: Experiment) -> dict[str, Any]:
    """One row of the experiments table."""
    e = experiment
    return {
        "id": e.id,
        "status": e.status,
        "running": e.running,
        "mode": e.mode,
        "share": e.shares[1],
        "challenger": e.challenger,
        "champion": e.champion,
        "started": e.created_ms,
        "ended": e.ended_ms,
        "outcome": e.outcome,
    }


def list_experiments(sources: ConsoleSources) -> dict[str, Any]:
    """Every experiment, newest first, and the running one's id (None when none runs)."""
    found = store(sources).all()
    running = next((e.id for e in found if e.running), None)
    return {
        "experiments": [summary(e) for e in found],
        "running": running,
        "how_to_start": HOW_TO_START,
        "read_only": READ_ONLY,
    }


def _rate(count: int, rows: int) -> float | None:
    return count / rows if rows else None


def arm_row(name: str, version: str, traffic: ArmTraffic, recall: ArmRecall) -> dict[str, Any]:
    """One arm's line of the table: its traffic as rates, its labelled frauds, recall and
    precision."""
    rows = traffic.rows
    return {
        "arm": name,
        "version": version,
        "rows": rows,
        "alerts": traffic.alerts,
        "alert_rate": _rate(traffic.alerts, rows),
        "declines": traffic.declines,
        "decline_rate": _rate(traffic.declines, rows),
        "us_per_row": traffic.scoring_us / rows if rows and traffic.scoring_us else None,
        "frauds": recall.frauds,
        "caught": recall.caught,
        "recall": recall.recall,
        "flagged": recall.flagged,
        "precision": recall.precision,
    }


def interval_text(evidence: Evidence) -> str:
    """The always-valid interval in recall points, or why there is none yet."""
    low, high = evidence.interval
    if not (math.isfinite(low) and math.isfinite(high)):
        return f"not yet: {evidence.labels} labelled frauds, and each arm needs some"
    return f"{low * 100:+.1f} to {high * 100:+.1f} pts"


def projected_text(evidence: Evidence, ahead: int | None, max_labels: int) -> str:
    """How many labels a verdict is away, if the difference holds."""
    if evidence.decided:
        return f"none: the test reached its verdict ({evidence.verdict})"
    if ahead is not None:
        return f"about {ahead:,} in all ({ahead - evidence.labels:,} more), if the difference holds"
    if not math.isfinite(evidence.interval[0]):
        return "not yet: too few labelled frauds to project"
    return f"not within {max_labels:,} labels at this difference"


def _evidence(found: Standing, rule: Rule) -> dict[str, Any]:
    proof = found.evidence
    return {
        "estimate_pts": proof.estimate * 100,
        "interval_text": interval_text(proof),
        "labels": proof.labels,
        "log_ratio": proof.log_ratio,
        "threshold": proof.threshold,
        "verdict": proof.verdict,
        "projected_labels": found.projected_labels,
        "projected_text": projected_text(proof, found.projected_labels, rule.max_labels),
    }


def show_experiment(sources: ConsoleSources, experiment_id: str) -> dict[str, Any] | None:
    """One experiment as `experiments status --json` has it, plus what the page draws: the arm
    table, the evidence in recall points, the breaches as sentences and the evidence trail
    (oldest first). None when DB5 holds no such experiment."""
    found = store(sources)
    experiment = found.find(experiment_id)
    if experiment is None:
        return None
    rule, limits = rule_and_limits(sources.settings.experiments)
    counts = found.counts_with_cost(experiment_id)
    now = standing(experiment, counts, rule, limits, sources.clock.now_ms())
    width = bucket_width(experiment.deadline_or(deadline_ms(sources.settings.experiments)))
    settled = found.settled(experiment_id)
    versions = (experiment.champion, experiment.challenger)
    return {
        **status_json(experiment, now, found.history(experiment_id)),
        "summary": summary(experiment),
        "arm_rows": [
            arm_row(*arm) for arm in zip(ARMS, versions, now.traffic, now.recall, strict=True)
        ],
        "shown_evidence": _evidence(now, rule),
        "breaches": [b.message() for b in now.breached],
        "trail": [asdict(p) for p in found.trail(experiment_id)],
        "counting": counting_line(counts, settled * width if settled else None).strip(),
        "rule": asdict(rule),
        "limits": asdict(limits),
        "read_only": READ_ONLY,
    }
