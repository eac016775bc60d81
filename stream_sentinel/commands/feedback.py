"""`stream-sentinel feedback`: the feedback store (Redis DB2) — labels, sources, delays."""

from __future__ import annotations

import json

import click

from stream_sentinel.commands.context import CliContext, pass_cli


@click.group("feedback")
def feedback() -> None:
    """Inspect the labels kept in the feedback store."""


@feedback.command("stats")
@click.option(
    "--days", type=click.IntRange(min=1), default=None, help="Only the latest N days with labels."
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_cli
def stats(cli: CliContext, days: int | None, as_json: bool) -> None:
    """Show labels per day and source, fraud share, label delay percentiles and conflicts."""
    from stream_sentinel.learning.feedback_stats import read_stats

    store = cli.state_store()
    try:
        found = read_stats(store, days)
    finally:
        store.close()
    if as_json:
        click.echo(json.dumps(found.to_json(), indent=2, sort_keys=True))
    elif not found.rows:
        click.echo("no labels in the feedback store yet (they arrive on fraud-feedback)")
    else:
        for line in found.lines():
            click.echo(line)


COMMANDS = [feedback]
