"""What a fraud engineer watches while the demo runs: the live view, or plain progress lines.

Panels (docs/demo.md explains each): pipeline (throughput, lag, latency), decisions by outcome,
alerts by severity and the actions they triggered, detection quality so far on labelled
traffic with the catch by pattern, users blocked right now, and the latest alerts with the rules
that fired, the features that pushed the score, and what the simulator knows they really were.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from stream_sentinel.demo.enforcement import Enforcement
from stream_sentinel.demo.observer import AlertLine, Snapshot
from stream_sentinel.demo.quality import PatternRow, Quality, latency
from stream_sentinel.demo.report import (
    ACTION_ORDER,
    DECISION_ORDER,
    SEVERITY_ORDER,
    count,
    millis,
    ordered_counts,
    ratio,
    share,
)
from stream_sentinel.demo.summary import RunInfo

LATEST_SHOWN = 8
BLOCKED_SHOWN = 6
SEVERITY_STYLE = {"CRITICAL": "bold red", "HIGH": "red", "MEDIUM": "yellow", "LOW": "cyan"}


@dataclass(frozen=True, slots=True)
class LiveState:
    """Everything one frame shows."""

    info: RunInfo
    phase: str  # "generating", "draining"
    elapsed_s: float
    now_ms: int
    snapshot: Snapshot
    enforcement: Enforcement
    labels_applied: dict[str, int]
    labelled: Quality
    patterns: list[PatternRow]
    false_alarms: PatternRow


def simulated(ms: int | None) -> str:
    if ms is None:
        return "-"
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M")


def progress_line(state: LiveState) -> str:
    """One line for logs and CI (no terminal)."""
    s, q = state.snapshot, state.labelled
    recent = latency(s.recent_latency_ms)
    return (
        f"demo {state.phase} {state.elapsed_s:4.0f}s/{state.info.duration_s:.0f}s | "
        f"generated {s.sent:,} | decided {s.decided:,} ({s.rate:,.0f}/s) | "
        f"latency p50 {millis(recent.p50)} p99 {millis(recent.p99)} | "
        f"alerts {sum(s.alerts.values()):,} | blocked now {len(state.enforcement.blocked):,} | "
        f"labels {sum(s.labels_published.values()):,} | labelled precision "
        f"{ratio(q.precision, 2)} recall {ratio(q.recall, 2)}"
    )


def render(state: LiveState) -> RenderableType:
    top = Table.grid(expand=True, padding=(0, 1))
    for ratio_ in (3, 3, 4):
        top.add_column(ratio=ratio_)
    top.add_row(_pipeline(state), _decisions(state.snapshot), _alerts(state))
    middle = Table.grid(expand=True, padding=(0, 1))
    middle.add_column(ratio=6)
    middle.add_column(ratio=4)
    middle.add_row(_quality(state), _blocked(state.enforcement, state.now_ms))
    return Group(_header(state), top, middle, _latest(state.snapshot.latest))


def _header(state: LiveState) -> Text:
    info = state.info
    text = Text()
    text.append("Stream-Sentinel demo ", style="bold")
    text.append(f"| {info.backend} | {info.guarantee} | model {info.model_version} | ")
    text.append(f"{state.elapsed_s:.0f} s / {info.duration_s:.0f} s {state.phase}", style="bold")
    text.append(
        f" | simulated {simulated(state.snapshot.simulated_ms)} UTC "
        f"(x{info.time_scale:,.0f}) | Ctrl-C stops early"
    )
    return text


def _kv(rows: list[tuple[str, str]]) -> Table:
    grid = Table.grid(padding=(0, 1))
    grid.add_column(style="dim", no_wrap=True)
    grid.add_column(justify="right", no_wrap=True)
    for name, value in rows:
        grid.add_row(name, value)
    return grid


def _pipeline(state: LiveState) -> Panel:
    s = state.snapshot
    recent = latency(s.recent_latency_ms)
    lag = max(s.sent - s.decided - s.dead_letters, 0)
    rows = [
        ("generated", count(s.sent)),
        ("decided", count(s.decided)),
        ("throughput", f"{s.rate:,.0f} tx/s"),
        ("lag", f"{lag:,} tx"),
        ("latency p50", millis(recent.p50)),
        ("latency p99", millis(recent.p99)),
        ("dead letters", count(s.dead_letters)),
    ]
    return Panel(_kv(rows), title="pipeline", title_align="left")


def _decisions(snapshot: Snapshot) -> Panel:
    total = snapshot.decided
    table = Table.grid(padding=(0, 1))
    table.add_column(no_wrap=True)
    table.add_column(justify="right")
    table.add_column(justify="right", style="dim")
    for name, n in ordered_counts(snapshot.decisions, DECISION_ORDER):
        table.add_row(name, count(n), share(n, total))
    return Panel(table, title="decisions", title_align="left")


def _alerts(state: LiveState) -> Panel:
    table = Table.grid(padding=(0, 1))
    table.add_column(no_wrap=True)
    table.add_column(justify="right")
    table.add_column(no_wrap=True, style="dim")
    table.add_column(justify="right")
    severities = ordered_counts(state.snapshot.alerts, SEVERITY_ORDER)
    actions = ordered_counts(state.enforcement.actions, ACTION_ORDER)
    for i in range(max(len(severities), len(actions))):
        name, n = severities[i] if i < len(severities) else ("", None)
        action, m = actions[i] if i < len(actions) else ("", None)
        table.add_row(
            Text(name, style=SEVERITY_STYLE.get(name, "")),
            "" if n is None else count(n),
            action,
            "" if m is None else count(m),
        )
    table.add_row("", "", "escalated", count(state.enforcement.escalated))
    return Panel(table, title="alerts by severity | actions taken", title_align="left")


def _quality(state: LiveState) -> Panel:
    q, s = state.labelled, state.snapshot
    published, applied = s.labels_published, state.labels_applied
    lines = Text()
    lines.append(
        f"labels arrived {sum(published.values()):,} (FRAUD {published.get('FRAUD', 0):,}, "
        f"LEGIT {published.get('LEGIT', 0):,}); applied {sum(applied.values()):,}\n"
    )
    lines.append(
        f"on labelled traffic: precision {ratio(q.precision)}  recall {ratio(q.recall)}  "
        f"AUC {ratio(q.auc)}",
        style="bold",
    )
    table = Table(box=None, padding=(0, 1), show_edge=False)
    table.add_column("pattern (ground truth)", no_wrap=True)
    table.add_column("injected", justify="right")
    table.add_column("caught", justify="right")
    table.add_column("", justify="right")
    for row in [*state.patterns, state.false_alarms]:
        table.add_row(
            row.pattern, count(row.injected), count(row.caught), share(row.caught, row.injected)
        )
    return Panel(Group(lines, table), title="detection quality so far", title_align="left")


def _blocked(enforcement: Enforcement, now_ms: int) -> Panel:
    in_force = enforcement.in_force
    lines = Table.grid(padding=(0, 1))
    lines.add_column(no_wrap=True)
    lines.add_column(style="dim", no_wrap=True)
    for user, until in enforcement.blocked[-BLOCKED_SHOWN:][::-1]:
        lines.add_row(user, f"declined for {max(until - now_ms, 0) / 1000:.0f} s more")
    summary = Text(
        f"step-up {in_force.get('step_up', 0):,}, watched {in_force.get('watched', 0):,}",
        style="dim",
    )
    title = f"blocked users: {len(enforcement.blocked):,} now"
    return Panel(Group(lines, summary), title=title, title_align="left")


def _latest(alerts: tuple[AlertLine, ...]) -> Panel:
    table = Table(box=None, padding=(0, 1), expand=True, show_edge=False)
    for name, right in (("user", False), ("amount", True), ("severity", False)):
        table.add_column(name, justify="right" if right else "left", no_wrap=True)
    table.add_column("decision", no_wrap=True)
    table.add_column("score", justify="right", no_wrap=True)
    table.add_column("rules fired", no_wrap=True, overflow="ellipsis", ratio=3)
    table.add_column("top contributions (log-odds)", no_wrap=True, overflow="ellipsis", ratio=4)
    table.add_column("truth", no_wrap=True, min_width=len("compromised_merchant"))
    for alert in alerts[:LATEST_SHOWN]:
        table.add_row(
            alert.user_id,
            f"{alert.amount:,.2f}",
            Text(alert.level, style=SEVERITY_STYLE.get(alert.level, "")),
            alert.decision,
            f"{alert.score:.3f}",
            ", ".join(alert.reasons) or "-",
            ", ".join(f"{name} {value:+.1f}" for name, value in alert.contributions[:3]) or "-",
            Text(alert.truth, style="green" if alert.truth == "legit" else "bold red"),
        )
    title = "latest alerts, MEDIUM and above (newest first; truth: what the simulator injected)"
    return Panel(table, title=title, title_align="left")
