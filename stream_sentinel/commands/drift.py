"""`stream-sentinel drift`: drift detection on the feature log (Redis DB4, topic drift-events)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from stream_sentinel.commands.context import (
    CliContext,
    instance_option,
    naming_the_broker,
    pass_cli,
    stop_on_signals,
    until_idle_option,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from stream_sentinel.clients.backends import Backends, RealClients
    from stream_sentinel.config import Settings
    from stream_sentinel.learning.drift.handler import DriftOutcome
    from stream_sentinel.learning.drift.labelled import LabelledOutcome
    from stream_sentinel.learning.drift.metrics import DriftMetrics
    from stream_sentinel.stream.loop import StreamLoop
    from stream_sentinel.transport.base import Broker

_SPAN = re.compile(r"^(\d+)([mhd])$")
_UNIT_MS = {"m": 60_000, "h": 3_600_000, "d": 86_400_000}


def span_ms(text: str, option: str) -> int:
    """``90m``, ``36h`` or ``2d`` in milliseconds (a click error saying so otherwise)."""
    found = _SPAN.match(text.strip())
    if found is None:
        raise click.BadParameter(
            f"{text!r} is not a span: give a whole number of minutes, hours or days, e.g. 90m, "
            "36h or 2d",
            param_hint=option,
        )
    return int(found.group(1)) * _UNIT_MS[found.group(2)]


def since_ms(text: str, now_ms: int) -> int:
    """``--since``: a span back from now (``24h``, ``7d``) or a UTC time (``2023-11-15T06:00``)."""
    if _SPAN.match(text.strip()):
        return now_ms - span_ms(text, "--since")
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise click.BadParameter(
            f"{text!r} is neither a span back from now (24h, 7d) nor a UTC time (2023-11-15T06:00)",
            param_hint="--since",
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


@click.group("drift")
def drift() -> None:
    """Watch the feature log for drift against each model's reference (Redis DB4)."""


@drift.command("run")
@until_idle_option("Exit once caught up (every assigned partition read) with no row for this long.")
@instance_option("This consumer's number among several (0, 1, ...): each needs its own.")
@click.option(
    "--metrics-port",
    type=click.IntRange(min=0, max=65535),
    default=None,
    help="Serve Prometheus metrics on this port (0: any free port).",
)
@pass_cli
def run(cli: CliContext, until_idle: float | None, instance: int, metrics_port: int | None) -> None:
    """Consume decision-features and fraud-feedback as drift-group; publish alarms on
    drift-events until stopped."""
    stop = stop_on_signals()
    from stream_sentinel.clients.backends import RealClients
    from stream_sentinel.clock import SYSTEM_CLOCK
    from stream_sentinel.learning.drift.service import drift_group, run_loops
    from stream_sentinel.transport.topics import Topics

    cli.run_as("drift")
    settings = cli.require(kafka=True, redis=True, registry=True)
    clients = RealClients(settings)
    backends = clients.backends()
    metrics = _metrics()
    decisions, labels, undecodable = _loops(settings, clients, backends, metrics, instance)
    topics = decisions.topic, labels.topic
    group = drift_group(settings.drift, Topics.from_settings(settings))
    click.echo(f"drift: {group} on {topics[0]} and {topics[1]}, Redis DB4")
    try:
        if metrics_port is not None:
            click.echo(f"metrics on http://127.0.0.1:{_serve(metrics, metrics_port)}/metrics")
        with naming_the_broker(settings, "drift"):
            decisions.start()
            labels.start()
            run_loops((decisions, labels), stop.is_set, until_idle, SYSTEM_CLOCK)
    finally:
        labels.close()
        decisions.close()
        backends.close()
    click.echo(
        f"rows {decisions.stats.records:,} read, labels {labels.stats.records:,} read, "
        f"{undecodable():,} undecodable"
    )


def _metrics() -> DriftMetrics:
    from stream_sentinel.learning.drift.metrics import DriftMetrics

    return DriftMetrics()


def _loops(
    settings: Settings,
    clients: RealClients,
    backends: Backends,
    observe: Callable[[DriftOutcome | LabelledOutcome], None],
    instance: int,
) -> tuple[StreamLoop, StreamLoop, Callable[[], int]]:
    """The group's two loops (the windows and kept decisions, the labels), and how many
    records they could not decode."""
    from stream_sentinel.clock import SYSTEM_CLOCK
    from stream_sentinel.learning.drift import service
    from stream_sentinel.learning.drift.decisions import KeepingDecisions
    from stream_sentinel.learning.drift.handler import DriftHandler
    from stream_sentinel.learning.drift.labelled import LabelledHandler
    from stream_sentinel.learning.registry import ModelRegistry
    from stream_sentinel.transport.topics import Topics
    from stream_sentinel.wire.serde import Serde

    topics = Topics.from_settings(settings)
    serde = Serde.from_settings(settings, clients.registry())
    bands = service.RegistryBands(ModelRegistry(backends.state))
    partitions = _partitions(backends.broker, topics.decision_features)
    windows = DriftHandler(
        serde, backends.state, settings.drift, bands, topics, SYSTEM_CLOCK, observe, partitions
    )
    deadline_ms = settings.drift.performance_deadline_hours * 3_600_000
    level = settings.detector.alert_level.name
    labelled = LabelledHandler(
        serde,
        backends.state,
        settings.drift,
        topics,
        SYSTEM_CLOCK,
        observe,
        partitions,
        _partitions(backends.broker, topics.fraud_feedback),
    )
    keeping = KeepingDecisions(windows, serde, bands, level, deadline_ms, labelled)
    batch = settings.detector.max_batch
    decisions = service.drift_loop(
        backends.broker, backends.state, keeping, settings.drift, topics, batch, instance
    )
    labels = service.labelled_loop(
        backends.broker, backends.state, labelled, settings.drift, topics, batch, instance
    )
    labelled.decision_unread = service.Unread(backends.broker, decisions)
    labelled.settles = instance == 0  # one member settles the performance hours
    return decisions, labels, lambda: keeping.undecodable + labelled.undecodable


def _partitions(broker: Broker, topic: str) -> int:
    """The feature log's partition count: the event-time clock waits for every one of them."""
    return broker.admin().describe_topics([topic])[topic].partitions


def _serve(metrics: DriftMetrics, port: int) -> int:
    from prometheus_client import start_http_server

    server, _ = start_http_server(port, addr="127.0.0.1", registry=metrics.registry)
    return int(server.server_port)


@drift.command("status")
@pass_cli
def status(cli: CliContext) -> None:
    """Each monitor's latest value against its threshold, per model version."""
    from stream_sentinel.learning.drift.records import DriftRecords
    from stream_sentinel.learning.drift.status import (
        clock_lines,
        performance_lines,
        status_lines,
    )
    from stream_sentinel.transport.topics import DECISION_FEATURES, LAYOUT

    store = cli.state_store()
    idle_ms = cli.settings.drift.idle_partition_s * 1000
    try:
        records = DriftRecords(store)
        minimum = cli.settings.drift.min_reference_rows
        alarms = records.alarms()
        lines = status_lines(records.checks(), alarms, records.progress(), minimum)
        lines += performance_lines(*records.performance(), alarms)
        lines += clock_lines(records.marks(), LAYOUT[DECISION_FEATURES][0], idle_ms)
    finally:
        store.close()
    click.echo("\n".join(lines))


@drift.command("report")
@click.option(
    "--since", default="7d", show_default=True, help="A span back (24h, 7d) or a UTC time."
)
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="The HTML file to write.",
)
@pass_cli
def report(cli: CliContext, since: str, output: Path) -> None:
    """Write a self-contained HTML report: features against the reference, statistics over time."""
    from stream_sentinel.learning.drift.records import DriftRecords
    from stream_sentinel.learning.drift.report import write_report

    now = cli.clock.now_ms()
    start = since_ms(since, now)
    if output.suffix.lower() not in (".html", ".htm"):
        raise click.BadParameter(f"{output} should end in .html", param_hint="--output")
    store = cli.state_store()
    try:
        html = write_report(DriftRecords(store), start, now)
    finally:
        store.close()
    output.write_text(html, encoding="utf-8")
    click.echo(f"wrote {output} ({len(html):,} bytes)")


@drift.command("evaluate")
@click.option(
    "--scenario", required=True, help="A generator scenario (baseline, spending-shift, ...)."
)
@click.option(
    "--days",
    type=click.IntRange(min=2),
    default=3,
    show_default=True,
    help="Evaluated days after the warm-up (the first day builds the reference).",
)
@click.option(
    "--switch-at",
    "switch_at",
    default="2d",
    show_default=True,
    help="When the scenario switches, after the warm-up (e.g. 36h, 2d).",
)
@click.option(
    "--seed",
    type=int,
    default=1,
    show_default=True,
    help="The traffic's seed (the documented figures are of seeds 11, 12 and 13).",
)
@click.option("--users", type=click.IntRange(min=100), default=5000, show_default=True)
@click.option(
    "--warmup-days",
    type=click.IntRange(min=0),
    default=7,
    show_default=True,
    help="Simulated days before the reference, while users' histories fill.",
)
@click.option("--label-delay", default="6h", show_default=True, help="Delay of the labels.")
@click.option(
    "--label-deadline",
    default=None,
    help="Labels given within this span of their transaction feed the performance monitors "
    "(default: SENTINEL_DRIFT_PERFORMANCE_DEADLINE_HOURS); whole hours, e.g. 12h or 1d.",
)
@click.option(
    "--json",
    "json_path",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Where to write the figures.",
)
@pass_cli
def evaluate(
    cli: CliContext,
    scenario: str,
    days: int,
    switch_at: str,
    seed: int,
    users: int,
    warmup_days: int,
    label_delay: str,
    label_deadline: str | None,
    json_path: Path,
) -> None:
    """Generate a scenario, run detect and drift on the embedded backends, time the alarms."""
    from stream_sentinel.backtest.drift_eval import EvaluateOptions, evaluate, train_model
    from stream_sentinel.generator.scenarios import get_scenario

    get_scenario(scenario)  # an unknown name fails here, naming the known ones
    switch = span_ms(switch_at, "--switch-at")
    settings = cli.settings
    reference_ms = settings.drift.reference_hours * 3_600_000
    if not reference_ms < switch < days * 86_400_000:
        raise click.BadParameter(
            f"{switch_at} must fall after the reference ({settings.drift.reference_hours}h) and "
            f"before the end ({days}d): e.g. --days {days} --switch-at {days - 1}d",
            param_hint="--switch-at",
        )
    options = EvaluateOptions(
        scenario, days, switch, seed, users, span_ms(label_delay, "--label-delay"), warmup_days
    )
    click.echo(f"training the served model on baseline traffic (seed {seed + 10_000})")
    model = train_model(settings, seed, users, options.label_delay_ms, options.begin_ms)
    drift_settings = settings.drift
    if label_deadline is not None:
        hours = max(span_ms(label_deadline, "--label-deadline") // 3_600_000, 1)
        drift_settings = drift_settings.model_copy(update={"performance_deadline_hours": hours})
    found = evaluate(options, settings, drift_settings, model, click.echo)
    json_path.write_text(json.dumps(found, indent=2) + "\n", encoding="utf-8")
    alarmed = [m for m in found["monitors"] if m["first_alarm_after_switch_s"] is not None]
    click.echo(
        f"{found['windows_checked']} windows checked, {len(alarmed)} monitors alarmed after the "
        f"switch; wrote {json_path}"
    )


COMMANDS = [drift]
