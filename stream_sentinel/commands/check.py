"""`stream-sentinel check`: is the real stack reachable and laid out as expected?"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from stream_sentinel.commands.context import CliContext, pass_cli

if TYPE_CHECKING:
    from stream_sentinel.config import Settings
    from stream_sentinel.ops.health import CheckResult


@click.command("check")
@click.option("--timeout", default=5.0, show_default=True, help="Seconds to wait per request.")
@pass_cli
def check(cli: CliContext, timeout: float) -> None:
    """Check Kafka, Redis and the schema registry; exit 1 naming whatever fails."""
    from stream_sentinel.clients.backends import RealClients
    from stream_sentinel.ops.health import check_kafka, check_redis, check_registry
    from stream_sentinel.transport.topics import Topics

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
    results = check_kafka(broker, clients.admin(timeout), Topics.from_settings(settings))
    results.insert(1, _quorum(settings, timeout, metadata_ok=results[0].ok))
    results += check_redis(store)
    store.close()
    registry = clients.registry()
    results += check_registry(registry, Topics.from_settings(settings))
    registry.close()
    for result in results:
        mark = click.style("PASS", fg="green") if result.ok else click.style("FAIL", fg="red")
        click.echo(f"{mark}  {result.name:<36} {result.detail}")
    failures = [r.name for r in results if not r.ok]
    if failures:
        click.echo(f"{len(failures)} check(s) FAILED: " + ", ".join(failures))
        raise SystemExit(1)
    click.echo("All connectivity checks PASSED")


def _quorum(settings: Settings, timeout: float, metadata_ok: bool) -> CheckResult:
    """The KRaft controller quorum: leader, voters and their lag (Kafka's own tool)."""
    import time

    from stream_sentinel.infra.quorum import describe_quorum, quorum_summary, tool_ready
    from stream_sentinel.ops.health import CheckResult, guarded

    name = "kafka: controller quorum"
    if not metadata_ok:
        return CheckResult(name, False, "skipped: the broker did not answer")
    if not tool_ready(settings):
        return CheckResult(
            name, True, "not checked: needs Java and the Kafka jars (stream-sentinel infra install)"
        )
    tool_timeout = max(4 * timeout, 20.0)  # a JVM starts first
    return guarded(
        name,
        lambda: quorum_summary(
            describe_quorum(settings, tool_timeout), now_ms=int(time.time() * 1000)
        ),
    )


COMMANDS = [check]
