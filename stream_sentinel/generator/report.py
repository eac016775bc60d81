"""What a person sees: the live progress line and the end-of-run summary."""

from __future__ import annotations

from datetime import UTC, datetime

from rich.console import Console
from rich.live import Live
from rich.text import Text

from stream_sentinel.clock import Clock
from stream_sentinel.generator.durations import format_duration
from stream_sentinel.generator.run import Progress, RunOutcome
from stream_sentinel.generator.simulator import Simulator
from stream_sentinel.generator.sinks import Sink

LIVE_INTERVAL_S = 0.2
PLAIN_INTERVAL_S = 5.0


def utc(ms: int | None) -> str:
    if ms is None:
        return "-"
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def progress_text(p: Progress) -> str:
    share = p.fraud / p.sent if p.sent else 0.0
    eta = "-" if p.eta_s is None else ("<1s" if p.eta_s < 1 else format_duration(p.eta_s))
    return (
        f"sent {p.sent:,} | {p.rate:,.0f}/s | fraud {p.fraud:,} ({share:.2%}) | "
        f"delivery errors {p.delivery_errors:,} | ETA {eta} | labels {p.labels:,} | "
        f"sim {utc(p.simulated_ms)[:16]}"
    )


class ProgressLine:
    """A live line on a terminal; a plain line every few seconds otherwise (logs, CI)."""

    def __init__(self, console: Console, clock: Clock) -> None:
        self._console, self._clock = console, clock
        self._live: Live | None = None
        if console.is_terminal:
            self._live = Live(console=console, auto_refresh=False, transient=False)
            self._live.start()
        self._last = -float("inf")

    def update(self, progress: Progress) -> None:
        now = self._clock.monotonic()
        interval = LIVE_INTERVAL_S if self._live else PLAIN_INTERVAL_S
        if now - self._last < interval:
            return
        self._last = now
        line = progress_text(progress)
        if self._live is not None:
            self._live.update(Text(line, no_wrap=True, overflow="ellipsis"), refresh=True)
        else:
            self._console.print(line, highlight=False, soft_wrap=True)

    def stop(self) -> None:
        if self._live is not None:
            self._live.stop()


def summary_lines(simulator: Simulator, outcome: RunOutcome, sink: Sink) -> list[str]:
    stats = simulator.stats
    rate = outcome.sent / outcome.elapsed_s if outcome.elapsed_s > 0 else 0.0
    span = ((stats.last_ms or 0) - (stats.first_ms or 0)) / 1000
    config = simulator.config
    lines = [
        f"Generated {outcome.sent:,} transactions in {outcome.elapsed_s:.1f}s ({rate:,.0f}/s) "
        f"to {sink.destination}; stopped: {outcome.stop_reason}",
        f"Simulated time: {utc(stats.first_ms)} -> {utc(stats.last_ms)} ({format_duration(span)}), "
        f"{config.users:,} users, {config.tx_per_user_day:.2f} tx/user/day, seed {simulator.seed}",
        f"Fraud: {stats.fraud:,} = {stats.realised_fraud_rate:.3%} realised "
        f"(target {config.fraud_rate:.3%})",
    ]
    lines += [f"  {name:<22}{count:>12,}" for name, count in stats.pattern_counts().items()]
    lines.append(_drift_line(simulator))
    lines.append(_labels_line(simulator, outcome, sink))
    delivery = outcome.delivery
    errors = f"Delivery errors: {delivery.errors:,}"
    if delivery.last_error:
        errors += f" (last: {delivery.last_error})"
    lines.append(errors)
    return lines


def _labels_line(simulator: Simulator, outcome: RunOutcome, sink: Sink) -> str:
    if not sink.writes_labels:
        return "Labels: none written (the is_fraud and fraud_pattern columns are the ground truth)"
    return (
        f"Labels: {outcome.labels_sent:,} released ({simulator.stats.fraud_labels_released:,} "
        f"FRAUD), {outcome.delivery.labels:,} delivered, {simulator.labels_pending:,} not yet "
        "due at the end"
    )


def _drift_line(simulator: Simulator) -> str:
    drift = simulator.drift
    if drift.switch_ms is None:
        return f"Drift: scenario {drift.scenario}, no switch"
    first = "none reached"
    if drift.first_seq_after is not None:
        first = f"{simulator.id_prefix}{drift.first_seq_after:010d}"
    return (
        f"Drift: scenario {drift.scenario}, switch at {utc(drift.switch_ms)} "
        f"({drift.switch_ms} ms); first transaction after it: {first}"
    )
