"""`stream-sentinel alerts`: the alert response processor and the analyst's commands.

``alerts`` (or ``alerts run``) consumes ``fraud-alerts`` as ``alert-response-group``; ``stats``,
``queue``, ``resolve`` and ``unblock`` read and change what the processors recorded.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import click

from stream_sentinel.commands.context import (
    CliContext,
    naming_the_broker,
    pass_cli,
    stop_on_signals,
)
from stream_sentinel.domain import Label, RiskLevel

if TYPE_CHECKING:
    from stream_sentinel.alerts.effects import AlertRecord
    from stream_sentinel.alerts.operator import AlertDesk
    from stream_sentinel.alerts.stats import AlertStats

TIER_NAMES = [t.name for t in (RiskLevel.CRITICAL, RiskLevel.HIGH, RiskLevel.MEDIUM, RiskLevel.LOW)]


def _run_options(command: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option(
            "--until-idle",
            type=click.FloatRange(min=0),
            default=None,
            metavar="SECONDS",
            help="Exit once every assigned partition has been caught up for this long.",
        ),
        click.option(
            "--max-records",
            type=click.IntRange(min=1),
            default=None,
            help="Exit after this many alert records.",
        ),
        click.option(
            "--metrics-port",
            type=click.IntRange(0, 65535),
            default=None,
            help="Serve Prometheus metrics on 127.0.0.1 at this port (0 = any free port).",
        ),
        click.option(
            "--guarantee",
            type=click.Choice(["exactly-once", "at-least-once"]),
            default=None,
            help="Processing guarantee (default: settings, exactly-once).",
        ),
        click.option(
            "--instance",
            type=click.IntRange(min=0),
            default=0,
            show_default=True,
            help="This processor's number among several (0, 1, ...): each needs its own.",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


@click.group("alerts", invoke_without_command=True)
@_run_options
@click.pass_context
def alerts(ctx: click.Context, **options: Any) -> None:
    """Turn fraud alerts into actions on users and work the case queues (default: run)."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(run, **options)


@alerts.command("run")
@_run_options
@pass_cli
def run(
    cli: CliContext,
    until_idle: float | None,
    max_records: int | None,
    metrics_port: int | None,
    guarantee: str | None,
    instance: int,
) -> None:
    """Consume fraud-alerts as alert-response-group and act on every alert until stopped."""
    stop = stop_on_signals()  # first: a signal during start-up must still mean "stop cleanly"
    from stream_sentinel.alerts.processor import AlertWorker
    from stream_sentinel.alerts.runner import AlertRun, RunLimits
    from stream_sentinel.clients.backends import RealClients
    from stream_sentinel.stream.running import BrokerOutage
    from stream_sentinel.stream.watchdog import shared_watchdog
    from stream_sentinel.transport.kafka import probe_kafka
    from stream_sentinel.wire.serde import Serde

    cli.override("alerts", guarantee=guarantee)
    cli.run_as("alerts")
    settings = cli.require(kafka=True, redis=True, registry=True)
    clients = RealClients(settings)
    backends = clients.backends()
    serde = Serde.from_settings(settings, clients.registry())
    watchdog = shared_watchdog(settings.detector.stall_limit_s)
    worker = AlertWorker(settings, backends, serde, slot=instance, watchdog=watchdog)
    outage = BrokerOutage(lambda: probe_kafka(settings.kafka), settings.kafka.outage_limit_s)
    click.echo(
        f"alert processor: group {settings.alerts.group_id}, {settings.alerts.guarantee}, "
        f"Kafka {settings.kafka.bootstrap}, Redis {settings.redis.shown_url}"
    )
    if metrics_port is not None:
        click.echo(f"metrics: http://127.0.0.1:{worker.metrics.serve(metrics_port)}/metrics")
    try:
        with naming_the_broker(settings, "alert processor"):
            limits = RunLimits(until_idle, max_records)
            summary = AlertRun(worker, limits, f"alerts-{instance}", outage).run(stop.is_set)
    finally:
        backends.close()
    _print_summary(summary)


def _print_summary(summary: dict[str, Any]) -> None:
    def counts(name: str) -> str:
        found = summary.get(name) or {}
        return ", ".join(f"{k} {v:,}" for k, v in sorted(found.items())) or "none"

    click.echo(f"records        {summary['records']:,} in {summary['batches']:,} batch(es)")
    for name in ("alerts", "actions", "dead_letters", "expired"):
        click.echo(f"{name.replace('_', ' '):<15}{counts(name)}")
    click.echo(f"escalated      {summary['escalated']:,}")
    click.echo(f"duplicates     {summary['duplicates']:,} (already handled, skipped)")


# -- the analyst's commands -------------------------------------------------------------------
@contextmanager
def _desk(cli: CliContext, writes: bool = True) -> Iterator[AlertDesk]:
    """The desk; ``writes``: the command publishes records (Kafka and the registry needed)."""
    from stream_sentinel.alerts.operator import AlertDesk
    from stream_sentinel.clients.backends import RealClients
    from stream_sentinel.wire.serde import Serde

    settings = cli.require(kafka=writes, redis=True, registry=writes)
    clients = RealClients(settings)
    serde = Serde.from_settings(settings, clients.registry())
    backends = clients.backends()
    try:
        yield AlertDesk(settings, backends, serde)
    finally:
        backends.close()


@alerts.command("stats")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document instead of tables.")
@pass_cli
def stats(cli: CliContext, as_json: bool) -> None:
    """Show alerts and actions by severity, SLA attainment, queue depths and control counts."""
    from stream_sentinel.alerts.stats import read_stats
    from stream_sentinel.clients.backends import RealClients
    from stream_sentinel.clock import SYSTEM_CLOCK

    store = RealClients(cli.require(redis=True)).state()
    try:
        found = read_stats(store, cli.settings.alerts, SYSTEM_CLOCK.now_ms())
    finally:
        store.close()
    if as_json:
        click.echo(json.dumps(found.to_json(), indent=2, sort_keys=True))
    else:
        _print_stats(found)


def _print_stats(found: AlertStats) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="alert response")
    for heading in (
        "tier",
        "alerts",
        "actions",
        "SLA target",
        "measured",
        "missed",
        "attained",
        "mean",
        "p95 within",
        "open cases",
    ):
        table.add_column(heading, justify="left" if heading in ("tier", "actions") else "right")
    sla = {s.tier.name: s for s in found.sla}
    for tier in TIER_NAMES:
        actions = found.actions.get(tier, {})
        s = sla[tier]
        table.add_row(
            tier,
            f"{found.alerts.get(tier, 0):,}",
            ", ".join(f"{a} {n:,}" for a, n in actions.items()) or "-",
            f"{s.target_ms:,} ms",
            f"{s.actions:,}",
            f"{s.missed:,}",
            "-" if s.attainment is None else f"{s.attainment:.1%}",
            "-" if s.mean_ms is None else f"{s.mean_ms:,.0f} ms",
            "-" if s.quantile_bound_ms(0.95) is None else f"{s.quantile_bound_ms(0.95)} ms",
            f"{found.queues.get(tier, 0):,}",
        )
    Console().print(table)
    control = found.control
    click.echo(
        f"in force: blocked {control['blocked']:,}, step-up {control['step_up']:,}, "
        f"watched {control['watched']:,}"
    )
    extras = {"escalated": found.escalated, "resolved": found.resolved, "operator": found.operator}
    for name, counts in extras.items():
        text = ", ".join(f"{k} {v:,}" for k, v in counts.items()) or "none"
        click.echo(f"{name}: {text}")


@alerts.command("queue")
@click.option(
    "--severity",
    type=click.Choice(TIER_NAMES, case_sensitive=False),
    default=None,
    help="Only this tier's queue (default: all, highest first).",
)
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=20,
    show_default=True,
    help="Show at most this many cases.",
)
@pass_cli
def queue(cli: CliContext, severity: str | None, limit: int) -> None:
    """List open cases, highest tier first and oldest first within a tier."""
    tier = RiskLevel[severity.upper()] if severity else None
    with _desk(cli, writes=False) as desk:
        cases = desk.queue(tier, limit)
    if not cases:
        click.echo("no open cases" + (f" in {tier.name}" if tier else ""))
        return
    _print_cases(cases)


def _print_cases(cases: list[AlertRecord]) -> None:
    from rich.console import Console
    from rich.table import Table

    from stream_sentinel.alerts.operator import iso_ms

    table = Table()
    for heading in (
        "alert id",
        "tier",
        "user",
        "transaction",
        "amount",
        "score",
        "opened",
        "reasons",
    ):
        table.add_column(heading, no_wrap=heading in ("alert id", "opened"))
    for case in cases:
        tier = case.tier.name + (" *" if "INVESTIGATE" in case.actions else "")
        table.add_row(
            case.alert_id,
            tier,
            case.user_id,
            case.transaction_id,
            f"{case.amount:,.2f}",
            f"{case.score:.2f}",
            iso_ms(case.alert_time),
            ", ".join(case.reasons) or "-",
        )
    Console(width=200).print(table)
    click.echo(f"{len(cases)} open case(s); * = under investigation")


@alerts.command("resolve")
@click.argument("alert_id")
@click.option(
    "--label",
    type=click.Choice(["fraud", "legit"], case_sensitive=False),
    required=True,
    help="The analyst's verdict.",
)
@click.option("--note", default=None, help="A note kept with the case.")
@pass_cli
def resolve(cli: CliContext, alert_id: str, label: str, note: str | None) -> None:
    """Close an alert's case with a verdict and publish it as analyst feedback."""
    from stream_sentinel.alerts.operator import iso_ms
    from stream_sentinel.transport.topics import Topics

    with _desk(cli) as desk:
        outcome = desk.resolve(alert_id, Label(label.upper()), note)
    record = outcome.record
    click.echo(
        f"resolved alert {record.alert_id} as {outcome.feedback.label.value}: feedback on "
        f"transaction {record.transaction_id} (user {record.user_id}) published to "
        f"{Topics.from_settings(cli.settings).fraud_feedback}"
    )
    if outcome.blocked_until is not None:
        click.echo(
            f"user {record.user_id} stays blocked until {iso_ms(outcome.blocked_until)}; "
            f"`stream-sentinel alerts unblock {record.user_id}` lifts the block"
        )


@alerts.command("unblock")
@click.argument("user_id")
@pass_cli
def unblock(cli: CliContext, user_id: str) -> None:
    """Lift a user's block now with an UNBLOCK_USER action."""
    from stream_sentinel.alerts.operator import iso_ms
    from stream_sentinel.transport.topics import Topics

    with _desk(cli) as desk:
        outcome = desk.unblock(user_id)
    click.echo(
        f"unblocked user {user_id} (the block ran until {iso_ms(outcome.blocked_until)}): "
        f"UNBLOCK_USER {outcome.action.action_id} published to "
        f"{Topics.from_settings(cli.settings).user_actions}"
    )


COMMANDS = [alerts]
