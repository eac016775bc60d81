"""`stream-sentinel check`: is the real stack reachable and laid out as expected?"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from stream_sentinel.commands.context import CliContext, pass_cli
from stream_sentinel.errors import SentinelError

if TYPE_CHECKING:
    from stream_sentinel.config import Settings
    from stream_sentinel.ops.health import CheckResult
    from stream_sentinel.transport.base import Admin


@click.command("check")
@click.option("--timeout", default=5.0, show_default=True, help="Seconds to wait per request.")
@pass_cli
def check(cli: CliContext, timeout: float) -> None:
    """Check Kafka, Redis and the schema registry; exit 1 naming whatever fails."""
    from stream_sentinel.clients.backends import RealClients
    from stream_sentinel.ops.health import check_kafka, check_redis, check_registry
    from stream_sentinel.transport.topics import Topics

    cli.run_as("admin")
    settings = cli.settings.with_overrides(
        redis={"retry_attempts": 1}, registry={"timeout_s": timeout}
    )
    clients = RealClients(settings)
    broker = clients.broker()
    store = clients.state()
    click.echo(
        f"Kafka {settings.kafka.bootstrap}, Redis {settings.redis.shown_url}, "
        f"schema registry {settings.registry.shown_url}"
    )
    admin = clients.admin(timeout)
    results = check_kafka(broker, admin, Topics.from_settings(settings))
    results.insert(1, _quorum(settings, admin, timeout, metadata_ok=results[0].ok))
    results += check_redis(store)
    store.close()
    registry = clients.registry()
    results += check_registry(registry, Topics.from_settings(settings))
    registry.close()
    for result in results:
        mark = click.style(result.mark, fg=_COLOURS[result.mark])
        click.echo(f"{mark}  {result.name:<36} {result.detail}")
    failures = [r.name for r in results if not r.ok]
    if failures:
        click.echo(f"{len(failures)} check(s) FAILED: " + ", ".join(failures))
        raise SystemExit(1)
    click.echo("All connectivity checks PASSED")


_COLOURS = {"PASS": "green", "FAIL": "red", "WARN": "yellow", "SKIP": "cyan"}
SINGLE_VOTER = "not checked (single voter)"
SECURED = "not checked (secured cluster)"


def _quorum(settings: Settings, admin: Admin, timeout: float, metadata_ok: bool) -> CheckResult:
    """The KRaft controller quorum: leader, voters and their lag (Kafka's own tool, a JVM).

    Only on a PLAINTEXT cluster of more than one broker: one broker is one voter (nothing to
    lag), and the tool is given no security settings."""
    import time

    from stream_sentinel.infra.quorum import describe_quorum, quorum_summary, tool_ready
    from stream_sentinel.ops.health import CheckResult, cluster_size, guarded

    name = "kafka: controller quorum"
    if not metadata_ok:
        return CheckResult(name, False, "skipped: the broker did not answer")
    if settings.kafka.security_protocol != "PLAINTEXT":
        return CheckResult(name, True, SECURED, "SKIP")
    try:
        brokers = cluster_size(admin)
    except SentinelError as exc:
        return CheckResult(name, False, str(exc))
    if brokers <= 1:
        return CheckResult(name, True, SINGLE_VOTER, "SKIP")
    if not tool_ready(settings):
        needs = "not checked: needs Java and the Kafka jars (stream-sentinel infra install)"
        return CheckResult(name, True, needs, "SKIP")
    return guarded(
        name,
        lambda: quorum_summary(describe_quorum(settings, timeout), now_ms=int(time.time() * 1000)),
    )


COMMANDS = [check]
