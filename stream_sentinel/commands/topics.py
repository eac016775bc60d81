"""`stream-sentinel topics create|list`: the topic layout of DESIGN section 3, idempotently."""

from __future__ import annotations

import click

from stream_sentinel.commands.context import CliContext, pass_cli


@click.group("topics")
def topics() -> None:
    """Create and inspect the project's Kafka topics."""


@topics.command("create")
@pass_cli
def create(cli: CliContext) -> None:
    """Create every topic of the layout that is missing (never changes existing ones)."""
    from stream_sentinel.clients.backends import RealClients
    from stream_sentinel.ops.health import cluster_size, require_all_live
    from stream_sentinel.transport.topics import Topics, replication_for

    cli.run_as("admin")
    names = Topics.from_settings(cli.require(kafka=True))
    admin = RealClients(cli.settings).admin()
    live = admin.describe_cluster().brokers
    brokers = cluster_size(admin, _local_nodes(cli))
    require_all_live(live, brokers)
    specs = names.specs(replication_for(brokers))
    created = admin.create_topics(specs)
    click.echo(f"{brokers} broker(s): replication factor {replication_for(brokers)}")
    for spec in specs:
        state = "created" if created[spec.name] else "exists "
        click.echo(
            f"{state}  {spec.name:<28} partitions={spec.partitions:<3} "
            f"replicas={spec.replication_factor} "
            + " ".join(f"{k}={v}" for k, v in spec.config.items())
        )
    click.echo(f"{sum(created.values())} created, {len(created) - sum(created.values())} existed")


def _local_nodes(cli: CliContext) -> int | None:
    """The local stack's recorded node count when the bootstrap is one of its nodes."""
    from stream_sentinel.infra.kafka_cluster import LAYOUT_FILE, load_layout

    state_dir = cli.settings.infra.state_dir.expanduser().resolve()
    layout = load_layout(state_dir / "kafka" / LAYOUT_FILE)
    if layout is None:
        return None
    endpoints = {f"{host}:{node.client_port}" for node in layout.nodes for host in _LOCAL}
    servers = set(cli.settings.kafka.bootstrap.split(","))
    return layout.size if servers & endpoints else None


_LOCAL = ("127.0.0.1", "localhost")


@topics.command("list")
@pass_cli
def list_topics(cli: CliContext) -> None:
    """Show the topics with partitions and configs, flagging any that differ from the layout."""
    from rich.console import Console
    from rich.table import Table

    from stream_sentinel.clients.backends import RealClients
    from stream_sentinel.ops.health import (
        cluster_size,
        layout_problems,
        replication_problems,
        replication_shortfall,
    )
    from stream_sentinel.transport.topics import Topics

    cli.run_as("admin")
    names = Topics.from_settings(cli.require(kafka=True))
    admin = RealClients(cli.settings).admin()
    found = admin.describe_topics([spec.name for spec in names.specs()])
    problems = layout_problems(admin, names)
    degraded = replication_problems(found)
    short = replication_shortfall(admin, names, cluster_size(admin, _local_nodes(cli)))
    table = Table()
    table.add_column("topic", no_wrap=True)
    for heading in ("partitions", "replicas", "min ISR", "compression", "retention.ms"):
        table.add_column(heading)
    table.add_column("cleanup")
    table.add_column("status")
    for spec in names.specs():
        info = found.get(spec.name)
        if info is None:
            table.add_row(spec.name, "-", "-", "-", "-", "-", "-", "[red]missing[/red]")
            continue
        status = _status(spec.name, problems + degraded, short)
        config = info.config
        table.add_row(
            spec.name,
            str(info.partitions),
            str(info.replication_factor),
            config.get("min.insync.replicas", "?"),
            config.get("compression.type", "?"),
            config.get("retention.ms", "?"),
            config.get("cleanup.policy", "?"),
            status,
        )
    Console().print(table)
    _report(problems, degraded, short)


def _status(name: str, failures: list[str], warnings: list[str]) -> str:
    """One topic's status cell: its failures in red, else its warnings in yellow, else ok."""
    for found, colour in ((failures, "red"), (warnings, "yellow")):
        mine = [p[len(name) + 1 :] for p in found if p.startswith(name + " ")]
        if mine:
            return f"[{colour}]" + "; ".join(mine) + f"[/{colour}]"
    return "ok"


def _report(problems: list[str], degraded: list[str], short: list[str]) -> None:
    """Say what differs, what is under-replicated and what has few copies; exit 1 for the
    first two (a topic with fewer copies than the cluster allows still works)."""
    from stream_sentinel.ops.health import SHORTFALL_REMEDY

    for problem in problems:
        click.echo(f"differs: {problem}")
    for problem in degraded:
        click.echo(f"under-replicated: {problem}")
    for problem in short:
        click.echo(f"low replication: {problem}")
    if short:
        click.echo(f"{len(short)} topic(s) with low replication: {SHORTFALL_REMEDY}")
    if problems:
        click.echo(
            f"{len(problems)} difference(s) from the expected layout; "
            "`stream-sentinel topics create` adds missing topics"
        )
    if degraded:
        click.echo(
            f"{len(degraded)} topic(s) with partitions short of in-sync replicas: a broker is"
            " down or behind (`stream-sentinel infra status`, `stream-sentinel check`)"
        )
    if problems or degraded:
        raise SystemExit(1)


COMMANDS = [topics]
