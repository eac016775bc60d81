"""`stream-sentinel dlq show|replay`: what was rejected, why, and putting it back after a fix."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import click

from stream_sentinel.commands.context import CliContext, pass_cli


@click.group("dlq")
def dlq() -> None:
    """Inspect and replay the dead-letter topic."""


def _filters(function: Any) -> Any:
    function = click.option(
        "--reason", default=None, help="Only letters whose error type is, or reason contains, this."
    )(function)
    return click.option(
        "--component", default=None, help="Only letters from this consumer (e.g. detector)."
    )(function)


def _selected(cli: CliContext, reason: str | None, component: str | None) -> list[Any]:
    from stream_sentinel.clients.backends import RealClients
    from stream_sentinel.stream.deadletters import read_letters
    from stream_sentinel.transport.topics import Topics
    from stream_sentinel.wire.serde import Serde

    settings = cli.require(kafka=True, registry=True)
    clients = RealClients(settings)
    serde = Serde.from_settings(settings, clients.registry())
    letters = read_letters(clients.broker(), serde, Topics.from_settings(settings))
    return [letter for letter in letters if letter.matches(reason, component)]


@dlq.command("show")
@_filters
@click.option("--limit", default=50, show_default=True, type=click.IntRange(min=1))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@pass_cli
def show(
    cli: CliContext, reason: str | None, component: str | None, limit: int, as_json: bool
) -> None:
    """List dead letters, decoded, with where they came from and why they were rejected."""
    letters = _selected(cli, reason, component)
    if as_json:
        for letter in letters[:limit]:
            record = dict(letter.record)
            record["key"] = None if record["key"] is None else record["key"].decode("latin-1")
            record["value"] = record["value"].decode("latin-1")
            click.echo(json.dumps(record, ensure_ascii=False))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("failed at (UTC)", "component", "source", "error", "reason")
    for letter in letters[:limit]:
        r = letter.record
        when = datetime.fromtimestamp(r["failed_time"] / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")
        source = f"{r['source_topic']}[{r['partition']}]@{r['offset']}"
        table.add_row(when, r["component"], source, r["error_type"], r["reason"])
    Console().print(table)
    shown = min(len(letters), limit)
    click.echo(f"{len(letters)} dead letter(s) match; {shown} shown")


@dlq.command("replay")
@_filters
@click.option("--dry-run", is_flag=True, help="Say what would be replayed, change nothing.")
@click.confirmation_option(
    "--yes",
    prompt="Put the matching dead letters back on their source topics?",
    help="Do not ask for confirmation.",
)
@pass_cli
def replay_letters(
    cli: CliContext, reason: str | None, component: str | None, dry_run: bool
) -> None:
    """Re-submit matching dead letters to their source topics (after fixing the cause)."""
    from collections import Counter

    from stream_sentinel.clients.backends import RealClients
    from stream_sentinel.stream.deadletters import replay

    selected = _selected(cli, reason, component)
    letters = [letter for letter in selected if not letter.truncated]
    if len(letters) < len(selected):
        click.echo(
            f"{len(selected) - len(letters)} matching dead letter(s) are not replayed: only the "
            "first part of their key or value was kept (key_size/value_size in `dlq show`); "
            "their producers must send them again",
            err=True,
        )
    by_topic = Counter(letter.record["source_topic"] for letter in letters)
    summary = ", ".join(f"{n} to {topic}" for topic, n in sorted(by_topic.items())) or "nothing"
    if dry_run:
        click.echo(f"would replay {len(letters)} dead letter(s): {summary}")
        return
    failed = replay(RealClients(cli.settings).broker(), letters)
    click.echo(f"replayed {len(letters) - len(failed)} dead letter(s): {summary}")
    if failed:
        where = ", ".join(f"dead-letter[{f.partition}]@{f.offset}" for f in failed[:5])
        raise SystemExit(
            f"{len(failed)} could not be delivered ({where}{', ...' if len(failed) > 5 else ''}); "
            "the others were. Replaying again sends the delivered ones a second time: "
            "narrow it with --reason/--component."
        )


COMMANDS = [dlq]
