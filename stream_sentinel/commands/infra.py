"""`stream-sentinel infra install | up | down | status`: the local Kafka, Redis and registry."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING

import click

from stream_sentinel.commands.context import CliContext, pass_cli

if TYPE_CHECKING:
    from stream_sentinel.infra.endpoints import StackPorts
    from stream_sentinel.infra.secure import StackSecurity
    from stream_sentinel.infra.stack import ServiceReport, Stack


def _stack(cli: CliContext, secure: bool = False) -> Stack:
    from stream_sentinel.infra.stack import Stack

    return Stack(cli.settings, secure=secure)


@click.group("infra")
def infra() -> None:
    """Run Kafka (KRaft), Redis and the schema registry as local processes, without Docker."""


@infra.command("install")
@pass_cli
def install(cli: CliContext) -> None:
    """Fetch the Kafka jars from Maven Central into the cache, once."""
    stack = _stack(cli)
    fetched = stack.install()
    verb = "installed" if fetched else "already installed"
    click.echo(f"Kafka {cli.settings.infra.kafka_version} jars {verb} in {stack.kafka.jars.libs}")


@infra.command("up")
@click.option(
    "--redis-maxmemory",
    default=None,
    metavar="SIZE",
    help="Redis memory cap, e.g. 4gb for big benchmarks (default: 512mb).",
)
@click.option("--no-registry", is_flag=True, help="Start Kafka and Redis only.")
@click.option(
    "--registry-instances",
    type=click.IntRange(1, 9),
    default=None,
    metavar="N",
    help="Schema registry instances sharing one _schemas log (default 1): the first on the"
    " registry port, the others on ports `infra status` lists.",
)
@click.option(
    "--brokers",
    type=int,
    default=None,
    metavar="N",
    callback=lambda ctx, param, value: _supported_brokers(value),
    help="Kafka nodes: 1 (default) or 3, a KRaft cluster replicating every topic 3 times; the"
    " first on the Kafka port, the others on ports `infra status` lists. Remembered: later"
    " commands need no flag.",
)
@click.option(
    "--secure",
    is_flag=True,
    help="Kafka over SASL_SSL (SCRAM-SHA-512, TLS from a local CA) with one principal and ACLs"
    " per service. Remembered: later commands need no flag. See docs/security.md.",
)
@pass_cli
def up(
    cli: CliContext,
    redis_maxmemory: str | None,
    no_registry: bool,
    registry_instances: int | None,
    brokers: int | None,
    secure: bool,
) -> None:
    """Start the local stack and wait until every service answers."""
    cli.override("redis", maxmemory=redis_maxmemory)
    cli.override("infra", registry_instances=registry_instances, brokers=brokers)
    stack = _stack(cli, secure)
    began = time.monotonic()
    reports = stack.up(with_registry=not no_registry, progress=click.echo)
    for report in reports:
        click.echo(_up_line(report))
    if redis_maxmemory and any(r.service == "redis" and r.state != "started" for r in reports):
        click.echo(
            "note: Redis was already running, so it keeps its maxmemory; run `stream-sentinel"
            f" infra down` and `infra up --redis-maxmemory {redis_maxmemory}` to apply it."
        )
    click.echo(
        f"Stack healthy after {time.monotonic() - began:.1f} s; data in {stack.state_dir}."
        " Stop it with `stream-sentinel infra down`."
    )
    if stack.security is not None:
        _echo_security(stack.security, stack.ports)


@infra.command("down")
@click.option(
    "--purge", is_flag=True, help="Also delete the local data so the next up starts empty."
)
@pass_cli
def down(cli: CliContext, purge: bool) -> None:
    """Stop exactly the processes `infra up` started, by pid."""
    result = _stack(cli).down(purge=purge)
    for report in result.services:
        pid = f" (pid {report.pid})" if report.pid else ""
        click.echo(f"{report.title:<16} {report.state}{pid}")
    for stray in result.strays:
        click.echo(f"{'Kafka node':<16} stopped (pid {stray}, not in the recorded layout)")
    for path in result.purged:
        click.echo(f"deleted {path}")


@infra.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@pass_cli
def status(cli: CliContext, as_json: bool) -> None:
    """Show each local service with its pid, ports and health."""
    stack = _stack(cli)
    reports = stack.status()
    security = None if stack.security is None else stack.security.describe()
    if as_json:
        services = [report.as_dict() for report in reports]
        view = {"state_dir": str(stack.state_dir), "security": security, "services": services}
        click.echo(json.dumps(view, indent=2))
    else:
        _print_table(reports)
        if stack.security is not None:
            _echo_security(stack.security, stack.ports)


def _echo_security(security: StackSecurity, ports: StackPorts) -> None:
    """Where the secure stack's files are and how a client reaches it (never a secret)."""
    described = security.describe()
    click.echo(f"Kafka security: {described['kafka']}")
    click.echo(f"Redis security: {described['redis']}")
    click.echo(f"Registry security: {described['registry']}")
    click.echo("Clients reach it with (the passwords are read from the secrets file):")
    for line in security.client_environment("<service>", ports.redis, ports.registry):
        click.echo(f"  {line}")


def _supported_brokers(value: int | None) -> int | None:
    """Refuse an unsupported --brokers before anything is looked at or started."""
    from stream_sentinel.errors import ConfigError
    from stream_sentinel.infra.kafka_cluster import require_supported

    try:
        return None if value is None else require_supported(value)
    except ConfigError as exc:
        raise click.BadParameter(str(exc).removeprefix("--brokers ")) from None


def _up_line(report: ServiceReport) -> str:
    extra = ""
    if report.node_id is not None:
        controller = next(p for role, p in report.ports.items() if role.endswith("controller"))
        extra = f" (KRaft controller on port {controller})"
    return (
        f"{report.title:<16} {report.state:<16} {report.endpoint}{extra}  pid {report.pid}"
        f"  log {report.log}"
    )


def _print_table(reports: list[ServiceReport]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table("service", "node", "state", "pid", "ports", "healthy")
    for report in reports:
        table.add_row(
            report.title,
            str(report.node_id or "-"),
            _STATE_TEXT.get(report.state, report.state),
            str(report.pid or "-"),
            ", ".join(str(port) for port in report.ports.values()),
            "yes" if report.healthy else "no",
        )
    console = Console(soft_wrap=True)
    console.print(table)
    for report in reports:
        console.print(f"{report.title:<16} {report.endpoint:<24} log {report.log}", highlight=False)


_STATE_TEXT = {"foreign": "port taken by another program"}

COMMANDS = [infra]
