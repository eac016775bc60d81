"""`stream-sentinel status`: lag per partition, last commits and dead letters of our groups."""

from __future__ import annotations

import json
import time
from typing import Any

import click

from stream_sentinel.commands.context import CliContext, pass_cli


@click.command("status")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_cli
def status(cli: CliContext, as_json: bool) -> None:
    """Show each consumer group of ours: lag per partition, its workers, dead letters."""
    from stream_sentinel.clients.backends import RealClients
    from stream_sentinel.ops.status import dead_letter_counts, group_status, our_groups

    settings = cli.require(kafka=True, redis=True)
    clients = RealClients(settings.with_overrides(redis={"retry_attempts": 2}))
    admin = clients.admin(timeout_s=10.0)
    store = clients.state()
    groups = [group_status(admin, store, group, topic) for group, topic in our_groups(settings)]
    dead = dead_letter_counts(store)
    store.close()
    if as_json:
        click.echo(json.dumps({"groups": [g.as_dict() for g in groups], "dead_letters": dead}))
        return
    _print(groups, dead)


def _print(groups: list[Any], dead: dict[str, int]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    now_ms = time.time() * 1000
    for group in groups:
        table = Table(title=f"{group.group} on {group.topic}: lag {group.total_lag:,}")
        table.add_column("partition", justify="right")
        table.add_column("committed", justify="right")
        table.add_column("lag", justify="right")
        for partition in sorted(group.lag):
            committed = group.committed.get(partition)
            table.add_row(
                str(partition),
                "-" if committed is None else f"{committed:,}",
                f"{group.lag[partition]:,}",
            )
        console.print(table)
        for beat in group.workers:
            last = beat.get("last_commit_ms") or 0
            ago = f"{(now_ms - last) / 1000:.1f} s ago" if last else "never"
            console.print(
                f"  {beat['worker']}: {beat.get('records', 0):,} records, last commit {ago}"
                + _model_note(beat.get("model"))
                + _shadow_note(beat.get("shadow"))
            )
            for what in ("model", "shadow"):
                error = (beat.get(what) or {}).get("error")
                if error:
                    console.print(f"    [red]{what}: {error}[/red]", highlight=False)
        if not group.workers:
            console.print("  no running workers (heartbeats expire 60 s after a worker stops)")
    text = ", ".join(f"{k} {v:,}" for k, v in dead.items()) or "none"
    console.print(f"dead letters: {text}  (stream-sentinel dlq show)")


def _model_note(model: dict[str, object] | None) -> str:
    """ ", model m-... (champion #3)" for a detector worker's heartbeat; "" for other groups."""
    if not model:
        return ""
    version = model.get("version") or "none (rules only)"
    alias = f" ({model['alias']} #{model['move']})" if model.get("alias") else ""
    return f", model {version}{alias}"


def _shadow_note(shadow: dict[str, object] | None) -> str:
    """ ", shadow m-... (exp-...)" while a shadow experiment runs, ", challenger m-... deciding
    its arm (exp-...)" in a split one; "" otherwise."""
    if not shadow:
        return ""
    version = shadow.get("version") or f"none (loading or refused {shadow.get('challenger')})"
    if shadow.get("mode") == "split":
        return f", challenger {version} deciding its arm ({shadow.get('experiment_id')})"
    return f", shadow {version} ({shadow.get('experiment_id')})"


COMMANDS = [status]
