"""What `experiments list` and `experiments status` print (lines, and the same as JSON)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from stream_sentinel.learning.views import utc
from stream_sentinel.logic.experiments.definition import Experiment, Step
from stream_sentinel.logic.experiments.standing import Standing

ARMS = ("champion", "challenger")


def when(ms: int | None) -> str:
    return "-" if ms is None else f"{utc(ms)} UTC"


def list_lines(experiments: list[Experiment]) -> list[str]:
    if not experiments:
        return ["no experiments yet: `stream-sentinel experiments start --challenger VERSION`"]
    lines = [f"{'id':32} {'status':9} {'mode':6} {'challenger':14} {'champion':14} started"]
    for e in experiments:
        lines.append(
            f"{e.id:32} {e.status:9} {e.mode:6} {e.challenger[:14]:14} {e.champion[:14]:14} "
            f"{when(e.created_ms)}"
        )
    return lines


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _arm_lines(standing: Standing) -> list[str]:
    lines = [
        f"  {'arm':10} {'rows':>9} {'alert rate':>10} {'decline rate':>12} "
        f"{'us/row':>7} {'frauds':>7} {'recall':>7} {'precision':>9}"
    ]
    for name, traffic, recall in zip(ARMS, standing.traffic, standing.recall, strict=True):
        rows = traffic.rows
        cost = f"{traffic.scoring_us / rows:.1f}" if rows and traffic.scoring_us else "-"
        lines.append(
            f"  {name:10} {rows:>9} {_pct(traffic.alerts / rows if rows else None):>10} "
            f"{_pct(traffic.declines / rows if rows else None):>12} {cost:>7} "
            f"{recall.frauds:>7} {_pct(recall.recall):>7} {_pct(recall.precision):>9}"
        )
    return lines


def _evidence_line(standing: Standing) -> str:
    proof = standing.evidence
    if not math.isfinite(proof.interval[0]):
        return f"  evidence: not yet ({proof.labels} labelled frauds; each arm needs some)"
    low, high = proof.interval
    ahead = standing.projected_labels
    projected = f"; about {ahead} labels to a verdict if it holds" if ahead else ""
    return (
        f"  evidence: challenger - champion recall {proof.estimate * 100:+.1f} pts, always-valid "
        f"interval {low * 100:+.1f} to {high * 100:+.1f} pts over {proof.labels} labels; "
        f"log ratio {proof.log_ratio:.2f} of {proof.threshold:.2f} needed ({proof.verdict})"
        f"{projected}"
    )


def counting_line(counts: Mapping[str, float], settled_until_ms: int | None) -> str:
    """How far the labels are counted, and what was left out and why."""
    until = (
        "no transaction has reached its label deadline yet"
        if settled_until_ms is None
        else f"transactions up to {when(settled_until_ms)} counted (their label deadline passed)"
    )
    left = [
        (int(counts.get("unscored:rows", 0)), "row(s) one model did not score"),
        (int(counts.get("untagged:rows", 0)), "row(s) decided without the experiment"),
        (int(counts.get("unscored:frauds", 0)), "of their frauds not counted"),
        (int(counts.get("labels:late", 0)), "label(s) after the deadline or the count"),
    ]
    out = ", ".join(f"{n} {what}" for n, what in left if n)
    return f"  labels: {until}" + (f"; left out: {out}" if out else "")


def status_lines(
    experiment: Experiment,
    standing: Standing,
    history: list[Step],
    counting: str | None = None,
) -> list[str]:
    e = experiment
    split = f", {e.shares[1]:.0%} of users decided by the challenger" if e.mode == "split" else ""
    lines = [
        f"experiment {e.id}: {e.status}{f' ({e.outcome})' if e.outcome else ''}",
        f"  {e.mode}{split}: challenger {e.challenger} against champion {e.champion}",
        f"  started {when(e.created_ms)} by {e.actor}; metric {e.metric}",
        *_arm_lines(standing),
        _evidence_line(standing),
        *([counting] if counting else []),
    ]
    for breach in standing.breached:
        lines.append(f"  guard rail breached: {breach.message()}")
    if e.running:
        lines.append(f"  next: {standing.outcome.action} ({standing.outcome.reason})")
    lines.append("  history (newest first):")
    lines += [f"    {when(s.at_ms)}  {s.action:10} {s.detail} [{s.actor}]" for s in history]
    return lines


def status_json(experiment: Experiment, standing: Standing, history: list[Step]) -> dict[str, Any]:
    proof = standing.evidence
    return {
        "experiment": asdict(experiment),
        "arms": {
            name: {
                **asdict(traffic),
                "frauds": recall.frauds,
                "caught": recall.caught,
                "recall": recall.recall,
                "flagged": recall.flagged,
                "precision": recall.precision,
            }
            for name, traffic, recall in zip(ARMS, standing.traffic, standing.recall, strict=True)
        },
        "evidence": {**asdict(proof), "interval": [_finite(x) for x in proof.interval]},
        "guard_rails": [asdict(b) for b in standing.breached],
        "next": asdict(standing.outcome),
        "projected_labels": standing.projected_labels,
        "history": [asdict(s) for s in history],
    }


def simulation_lines(found: dict[str, Any]) -> list[str]:
    """What `experiments simulate` prints of its summary."""
    lines = []
    design = found["design"]
    split = f" {design['share']:.0%} challenger" if design["mode"] == "split" else ""
    lines.append(
        f"{found['runs']} runs per truth, {design['mode']}{split}, alpha {found['alpha']}, "
        f"effect {found['mde']}, at most {found['max_labels']} frauds, read after every one"
    )
    lines.append(
        f"labels: median {design['caught_delay_days']:g} days for a flagged fraud, "
        f"{design['missed_delay_days']:g} for a missed one; each transaction counted "
        f"{design['deadline_days']:g} days after its decision"
    )
    lines.append(
        f"{'truth':8} {'promoted':>9} {'retired':>8} {'undecided':>10} "
        f"{'labels':>8} {'days':>6} {'naive promoted':>15} {'naive retired':>14}"
    )
    for truth, row in found["by_truth"].items():
        labels, days = row["median_labels_to_decision"], row["median_days_to_decision"]
        lines.append(
            f"{truth:8} {row['promoted']:>9} {row['retired']:>8} {row['undecided']:>10} "
            f"{'-' if labels is None else f'{labels:.0f}':>8} "
            f"{'-' if days is None else f'{days:.1f}':>6} "
            f"{row['naive_promoted']:>15} {row['naive_retired']:>14}"
        )
    low, high = found["false_promotion_ci"]
    lines.append(
        f"false promotions {found['false_promotion_rate']:.1%} (95% CI {low:.1%}-{high:.1%}), "
        f"false stops {found['false_stop_rate']:.1%}, power {found['power']:.1%}; "
        f"a naive z-test read as often: false promotions "
        f"{found['naive_false_promotion_rate']:.1%}, "
        f"false stops {found['naive_false_stop_rate']:.1%}"
    )
    return lines
