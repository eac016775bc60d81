"""The end-of-run summary and the "where to go next" commands, as rich renderables.

Plain aligned text on a pipe or a CI log (no colour, no box characters in the key lines), tables
on a terminal; the same figures either way. docs/demo.md explains each line.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

from rich import box
from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from stream_sentinel.demo.quality import PatternRow, Quality
from stream_sentinel.demo.summary import DemoSummary, RunInfo

DECISION_ORDER = ("APPROVE", "REVIEW", "CHALLENGE", "DECLINE")
SEVERITY_ORDER = ("CRITICAL", "HIGH", "MEDIUM", "LOW")
ACTION_ORDER = ("BLOCK_USER", "INVESTIGATE", "STEP_UP", "OPEN_CASE", "WATCH", "MONITOR")


# -- small formatters (shared with the live view) ------------------------------------------------
def count(n: int) -> str:
    return f"{n:,}"


def share(part: int, whole: int) -> str:
    return f"{part / whole:.1%}" if whole else "-"


def ratio(value: float, digits: int = 3) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:.{digits}f}"


def millis(value: float) -> str:
    if math.isnan(value):
        return "-"
    return f"{value:,.0f} ms" if value >= 10 else f"{value:.1f} ms"


def ordered_counts(counts: Mapping[str, int], order: Iterable[str]) -> list[tuple[str, int]]:
    """Known names in ``order`` first (zeros included), then any others."""
    known = list(order)
    rest = sorted(k for k in counts if k not in known)
    return [(name, counts.get(name, 0)) for name in [*known, *rest]]


def inline(counts: Mapping[str, int], order: Iterable[str], total: int | None = None) -> str:
    parts = []
    for name, n in ordered_counts(counts, order):
        parts.append(f"{name} {n:,}" + (f" ({share(n, total)})" if total else ""))
    return ", ".join(parts)


def top_rule_text(row: PatternRow) -> str:
    return "-" if row.top_rule is None else f"{row.top_rule[0]} {row.top_rule[1]:.0%}"


def emit(console: Console, renderable: RenderableType) -> None:
    """Print; off a terminal without the trailing blanks rich pads table lines with."""
    if console.is_terminal:
        console.print(renderable)
        return
    with console.capture() as captured:
        console.print(renderable)
    lines = (line.rstrip() for line in captured.get().splitlines())
    print("\n".join(lines), file=console.file, flush=True)


# -- the summary ---------------------------------------------------------------------------------
def headline(info: RunInfo) -> str:
    return f"Stream-Sentinel demo: {info.where}, {info.guarantee}, model {info.model_version}" + (
        f" (held-out AUC {info.model_auc:.3f})" if info.model_auc else ""
    )


def facts(summary: DemoSummary) -> Table:
    """The key lines: one fact per row, label then value."""
    info, s = summary.info, summary
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column()
    stopped = " (stopped early by Ctrl-C)" if s.interrupted else ""
    grid.add_row(
        "run",
        f"{s.elapsed_s:.0f} s at {info.rate:,.0f}/s target{stopped}; seed {info.seed}; "
        f"{info.users:,} simulated customers; simulated time x{info.time_scale:,.0f} "
        f"({s.simulated_days:.1f} days)",
    )
    grid.add_row(
        "transactions",
        f"{s.transactions:,} generated, {s.decided:,} decided ({s.decision_rate:,.0f}/s), "
        f"{s.dead_letters:,} dead letters, {s.undecided:,} undecided at the end",
    )
    grid.add_row("decisions", inline(s.decisions, DECISION_ORDER, s.decided))
    grid.add_row("alerts", inline(s.alerts, SEVERITY_ORDER) + " (LOW: users on the watch list)")
    grid.add_row("actions", _actions_line(summary))
    grid.add_row("labels", _labels_line(summary))
    lat = s.latency
    grid.add_row(
        "latency",
        f"p50 {millis(lat.p50)}, p90 {millis(lat.p90)}, p99 {millis(lat.p99)}, "
        f"max {millis(lat.max)} (input Kafka timestamp -> decision committed; "
        f"{lat.count:,} decisions)",
    )
    return grid


def _actions_line(summary: DemoSummary) -> str:
    enforcement = summary.enforcement
    taken = inline(enforcement.actions, ACTION_ORDER) if enforcement.actions else "none"
    in_force = enforcement.in_force
    return (
        f"{taken}; {enforcement.escalated:,} escalated; in force at the end: blocked "
        f"{in_force.get('blocked', 0):,}, step-up {in_force.get('step_up', 0):,}, "
        f"watched {in_force.get('watched', 0):,}"
    )


def _labels_line(summary: DemoSummary) -> str:
    published, applied = summary.labels_published, summary.labels_applied
    return (
        f"{sum(published.values()):,} published to fraud-feedback "
        f"(FRAUD {published.get('FRAUD', 0):,}, LEGIT {published.get('LEGIT', 0):,}); "
        f"{sum(applied.values()):,} applied to merchant state by the detector's feedback loop"
    )


def pattern_table(rows: list[PatternRow], total: PatternRow, legitimate: PatternRow) -> Table:
    table = Table(
        title="fraud caught by pattern (simulator ground truth)",
        box=box.SIMPLE_HEAD,
        title_justify="left",
    )
    table.add_column("pattern", no_wrap=True)
    for name in ("injected", "caught", "caught %", "by rules", "by model", "enforced"):
        table.add_column(name, justify="right", no_wrap=True, min_width=len(name))
    table.add_column("rule fired most", no_wrap=True)
    for row in [*rows, total, legitimate]:
        table.add_row(
            row.pattern,
            count(row.injected),
            count(row.caught),
            share(row.caught, row.injected),
            count(row.by_rules),
            count(row.by_model),
            count(row.enforced),
            "" if row is total else top_rule_text(row),
            style="bold" if row is total else ("dim" if row is legitimate else None),
            end_section=row is total,
        )
    return table


def quality_table(labelled: Quality, overall: Quality) -> Table:
    table = Table(title="detection quality", box=box.SIMPLE_HEAD, title_justify="left")
    table.add_column("measure", no_wrap=True)
    table.add_column("labelled traffic", justify="right")
    table.add_column("all traffic", justify="right")
    for name, pick in (
        ("transactions", lambda q: count(q.transactions)),
        ("fraud", lambda q: count(q.fraud)),
        ("flagged", lambda q: count(q.flagged)),
        ("precision", lambda q: ratio(q.precision)),
        ("recall", lambda q: ratio(q.recall)),
        ("ROC AUC", lambda q: ratio(q.auc)),
    ):
        table.add_row(name, pick(labelled), pick(overall))
    return table


def summary_renderable(summary: DemoSummary) -> RenderableType:
    note = Text(
        "caught = REVIEW, CHALLENGE or DECLINE; each caught payment counts once: enforced (the "
        "user was already blocked or stepped up by an earlier alert), else by a rule that flags "
        "on its own, else by the model's score. Labelled traffic: transactions whose label was "
        "published (every fraud, 5% of legitimate payments), as a fraud team measures it; all "
        "traffic: against the simulator's ground truth.",
        style="dim",
    )
    return Group(
        Text(headline(summary.info), style="bold"),
        facts(summary),
        Text(""),
        pattern_table(summary.patterns, summary.total, summary.legitimate),
        quality_table(summary.labelled, summary.overall),
        note,
        Text(""),
        next_steps(summary.info),
    )


# -- where to go next ----------------------------------------------------------------------------
EMBEDDED_NEXT = (
    ("make setup-kafka setup-redis", "once: Java, the Kafka jars from Maven Central, redis-server"),
    ("stream-sentinel infra up", "Kafka (KRaft), Redis and the schema registry on this machine"),
    ("stream-sentinel demo --backend local", "this same scenario on the real stack"),
)
STACK_NEXT = (
    ("stream-sentinel topics create", "the topic layout, for your own runs"),
    ("stream-sentinel generate --rate 2000", "synthetic traffic into `transactions`"),
    (
        "stream-sentinel models import {model_dir}",
        "the demo's model into the stack's registry (`models promote VERSION` makes it champion)",
    ),
    ("stream-sentinel detect", "the detector group, scoring with the registry's champion"),
    ("stream-sentinel alerts", "the alert processor; then `alerts stats`, `alerts queue`"),
    ("stream-sentinel bench all", "throughput and latency of the real pipeline on this machine"),
)


def next_steps(info: RunInfo) -> RenderableType:
    steps = (EMBEDDED_NEXT if info.backend == "embedded" else ()) + STACK_NEXT
    grid = Table.grid(padding=(0, 2))
    grid.add_column(no_wrap=True, style="cyan")
    grid.add_column(style="dim")
    for command, why in steps:
        grid.add_row(command, why.format(model_dir=info.model_dir))
    title = Text("where to go next (docs/demo.md explains every number above):", style="bold")
    return Group(title, grid)
