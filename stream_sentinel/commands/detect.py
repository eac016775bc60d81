"""`stream-sentinel detect`: score every transaction on the real stack (consumer group
``fraud-detection-group``), with a live status line and a summary at the end."""

from __future__ import annotations

import sys
import time
from typing import Any

import click

from stream_sentinel.commands.context import (
    CliContext,
    naming_the_broker,
    pass_cli,
    stop_on_signals,
)


@click.command("detect")
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Detector processes in the consumer group.",
)
@click.option(
    "--until-idle",
    type=click.FloatRange(min=0),
    default=None,
    metavar="SECONDS",
    help="Exit once every assigned partition has been caught up for this long.",
)
@click.option(
    "--max-records",
    type=click.IntRange(min=1),
    default=None,
    help="Exit after this many input records (per worker).",
)
@click.option(
    "--metrics-port",
    type=click.IntRange(0, 65535),
    default=None,
    help="Serve Prometheus metrics on this port (+1 per worker; 0 = any free port).",
)
@click.option(
    "--guarantee",
    type=click.Choice(["exactly-once", "at-least-once"]),
    default=None,
    help="Processing guarantee (default: settings, exactly-once).",
)
@click.option(
    "--low-latency",
    is_flag=True,
    default=None,
    help="Use the low-latency client profile (linger ~1 ms, short fetch wait).",
)
@click.option(
    "--slot",
    default=0,
    show_default=True,
    type=click.IntRange(0, 9999),
    help="First worker slot. Every detector process in the group needs its own slot "
    "(its transactional id is <group>-<slot>).",
)
@pass_cli
def detect(
    cli: CliContext,
    workers: int,
    until_idle: float | None,
    max_records: int | None,
    metrics_port: int | None,
    guarantee: str | None,
    low_latency: bool | None,
    slot: int,
) -> None:
    """Score transactions from Kafka: a decision for each, an alert for the risky ones."""
    stop = stop_on_signals()
    from stream_sentinel.detector.runner import RunOptions, build_process, run_workers

    cli.override("detector", guarantee=guarantee)
    cli.run_as("detector")
    settings = cli.require(kafka=True, redis=True, registry=True)
    options = RunOptions(until_idle, max_records, metrics_port, low_latency)
    status = _StatusLine()
    click.echo(
        f"detector: group {settings.detector.group_id}, {settings.detector.guarantee}, "
        f"{workers} worker(s), Kafka {settings.kafka.bootstrap}, Redis {settings.redis.shown_url}"
    )
    with naming_the_broker(settings, "detector"):
        if workers == 1:
            process = build_process(settings, slot, low_latency)
            if metrics_port is not None:
                url = f"http://127.0.0.1:{process.metrics.serve(metrics_port)}/metrics"
                click.echo(f"metrics: {url}")
            summary = process.run(stop.is_set, options, status.update)
        else:
            summary = run_workers(settings, workers, options, stop, status.update, first_slot=slot)
    status.finish()
    _print_summary(summary)


class _StatusLine:
    """One line, rewritten in place on a terminal; a plain line every 5 s otherwise."""

    def __init__(self) -> None:
        self.tty = sys.stdout.isatty()
        self._last_plain = 0.0
        self._records = 0
        self._started = time.monotonic()

    def update(self, summary: dict[str, Any]) -> None:
        line = _line(summary)
        if self.tty:
            click.echo("\r" + line.ljust(110)[:110], nl=False)
        elif time.monotonic() - self._last_plain >= 5.0:
            self._last_plain = time.monotonic()
            click.echo(line)

    def finish(self) -> None:
        if self.tty:
            click.echo()


def _line(summary: dict[str, Any]) -> str:
    decisions = summary.get("decisions", {})
    alerts = sum(summary.get("alerts", {}).values())
    dead = sum(summary.get("dead_letters", {}).values())
    return (
        f"records {summary['records']:>10,}  {summary['rate']:>8,.0f}/s  "
        f"approve {decisions.get('APPROVE', 0):,}  review {decisions.get('REVIEW', 0):,}  "
        f"challenge {decisions.get('CHALLENGE', 0):,}  decline {decisions.get('DECLINE', 0):,}  "
        f"alerts {alerts:,}  dead letters {dead:,}"
    )


def _print_summary(summary: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="detector summary", show_header=False)
    table.add_column(style="bold")
    table.add_column()
    table.add_row("records", f"{summary['records']:,}")
    table.add_row("rate", f"{summary['rate']:,.0f} records/s")
    table.add_row("model", str(summary.get("model_version") or "rules only"))
    for name in ("decisions", "alerts", "dead_letters", "labels"):
        counts = summary.get(name) or {}
        text = ", ".join(f"{k} {v:,}" for k, v in sorted(counts.items())) or "none"
        table.add_row(name.replace("_", " "), text)
    table.add_row("aborted transactions", str(summary.get("aborted_transactions", 0)))
    table.add_row("re-applied after a crash", str(summary.get("repaired_records", 0)))
    Console().print(table)


COMMANDS = [detect]
