"""`stream-sentinel feedback`: the feedback store (Redis DB2) — labels, sources, delays."""

from __future__ import annotations

import json

import click

from stream_sentinel.commands.context import (
    CliContext,
    instance_option,
    naming_the_broker,
    pass_cli,
    stop_on_signals,
    until_idle_option,
)


@click.group("feedback")
def feedback() -> None:
    """Keep the labels of fraud-feedback in the feedback store and report on them."""


@feedback.command("run")
@until_idle_option(
    "Exit once caught up (every assigned partition read) with no label for this long."
)
@instance_option("This consumer's number among several (0, 1, ...): each needs its own.")
@pass_cli
def run(cli: CliContext, until_idle: float | None, instance: int) -> None:
    """Consume fraud-feedback as feedback-store-group and keep every label until stopped."""
    stop = stop_on_signals()  # first: a signal during start-up must still mean "stop cleanly"
    from stream_sentinel.clients.backends import RealClients
    from stream_sentinel.clock import SYSTEM_CLOCK
    from stream_sentinel.learning.label_consumer import (
        GROUP_ID,
        LabelHandler,
        label_loop,
        run_until,
    )
    from stream_sentinel.transport.topics import Topics
    from stream_sentinel.wire.serde import Serde

    cli.run_as("learner")  # the feedback store's grants are the learner's
    settings = cli.require(kafka=True, redis=True, registry=True)
    clients = RealClients(settings)
    backends = clients.backends()
    handler = LabelHandler(Serde.from_settings(settings, clients.registry()), backends.state)
    topics = Topics.from_settings(settings)
    loop = label_loop(
        backends.broker, backends.state, handler, topics, settings.detector.max_batch, instance
    )
    click.echo(f"feedback store: group {GROUP_ID} on {topics.fraud_feedback}, Redis DB2")
    try:
        with naming_the_broker(settings, "feedback store"):
            loop.start()
            run_until(loop, stop.is_set, until_idle, SYSTEM_CLOCK)
    finally:
        loop.close()
        backends.close()
    click.echo(
        f"labels {handler.labels:,} kept, {handler.unchanged:,} unchanged (re-delivered or "
        f"older), {handler.undecodable:,} undecodable (dead-lettered by the detector)"
    )


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
