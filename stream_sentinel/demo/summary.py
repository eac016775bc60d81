"""The end-of-run summary as values: built from the last snapshot, pure and testable."""

from __future__ import annotations

from dataclasses import dataclass, field

from stream_sentinel.demo.enforcement import Enforcement
from stream_sentinel.demo.observer import Snapshot
from stream_sentinel.demo.quality import (
    Latency,
    PatternRow,
    Quality,
    all_fraud,
    false_alarms,
    ground_truth_quality,
    labelled_quality,
    latency,
    pattern_rows,
)


@dataclass(frozen=True, slots=True)
class RunInfo:
    """What ran: fixed before the first transaction."""

    backend: str  # "embedded" | "local"
    where: str  # the backends in words
    guarantee: str
    model_version: str
    model_auc: float | None
    seed: int
    users: int
    rate: float
    duration_s: float
    time_scale: float
    model_dir: str = ""  # where the demo model is kept
    tag: str | None = None  # local: the run's topic prefix / key namespace tag


@dataclass(frozen=True, slots=True)
class DemoSummary:
    info: RunInfo
    elapsed_s: float  # wall time the generator ran
    transactions: int  # published by the generator
    decided: int
    dead_letters: int
    undecided: int  # published but not decided when the demo stopped
    simulated_days: float
    patterns: list[PatternRow]
    total: PatternRow
    legitimate: PatternRow  # "caught" legitimate payments: the false alarms, by cause
    labelled: Quality
    overall: Quality
    decisions: dict[str, int]
    alerts: dict[str, int]
    enforcement: Enforcement
    latency: Latency
    labels_published: dict[str, int]
    labels_applied: dict[str, int] = field(default_factory=dict)
    interrupted: bool = False

    @property
    def decision_rate(self) -> float:
        return self.decided / self.elapsed_s if self.elapsed_s > 0 else 0.0


def summarize(
    snapshot: Snapshot,
    enforcement: Enforcement,
    info: RunInfo,
    *,
    elapsed_s: float,
    simulated_days: float,
    labels_applied: dict[str, int],
    flagging_rules: tuple[str, ...] = (),
    interrupted: bool = False,
) -> DemoSummary:
    """The summary of a run from its final snapshot (take it with ``every_latency=True``)."""
    view = snapshot.ledger
    rows = pattern_rows(view, flagging_rules)
    return DemoSummary(
        info=info,
        elapsed_s=elapsed_s,
        transactions=snapshot.sent,
        decided=snapshot.decided,
        dead_letters=snapshot.dead_letters,
        undecided=max(snapshot.sent - snapshot.decided - snapshot.dead_letters, 0),
        simulated_days=simulated_days,
        patterns=rows,
        total=all_fraud(rows),
        legitimate=false_alarms(view, flagging_rules),
        labelled=labelled_quality(view),
        overall=ground_truth_quality(view),
        decisions=snapshot.decisions,
        alerts=snapshot.alerts,
        enforcement=enforcement,
        latency=latency(snapshot.latency_ms),
        labels_published=snapshot.labels_published,
        labels_applied=labels_applied,
        interrupted=interrupted,
    )
