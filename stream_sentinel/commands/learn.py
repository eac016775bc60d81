"""`stream-sentinel learn`: the continuous learner (consumer group ``learning-group``).

``learn`` keeps the labelled training set from ``decision-features`` and ``fraud-feedback``,
retrains on a schedule (event time) and when asked, and registers each candidate with the
promotion policy's decision; ``learn retrain-now`` asks it for a retrain; ``learn status``
shows the training set and the last decision.
"""

from __future__ import annotations

import getpass
import json
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
from stream_sentinel.errors import UsageError

if TYPE_CHECKING:
    from stream_sentinel.clients.backends import Backends, ClientFactory
    from stream_sentinel.learning.learner.service import Learner
    from stream_sentinel.learning.model_events import Announcer


def _retrain_every_ms(text: str | None) -> int | None:
    if text is None:
        return None
    from stream_sentinel.generator.durations import parse_duration

    ms = round(parse_duration(text, what="--retrain-every") * 1000)
    if ms <= 0:
        raise UsageError(f"--retrain-every {text!r} must be longer than 0 (e.g. 6h or 1d)")
    return ms


@click.group("learn", invoke_without_command=True)
@click.option(
    "--retrain-every",
    default=None,
    metavar="DURATION",
    help="Retrain each time event time moves this far (6h, 1d; default "
    "SENTINEL_LEARNING_RETRAIN_EVERY_MS, 1d).",
)
@until_idle_option("Exit once caught up on both topics with nothing new for this long.")
@instance_option("This learner's number among several (0, 1, ...): each needs its own.")
@click.pass_context
def learn(
    ctx: click.Context, retrain_every: str | None, until_idle: float | None, instance: int
) -> None:
    """Keep the labelled training set, retrain on a schedule and on request, promote by policy."""
    if ctx.invoked_subcommand is not None:
        if retrain_every is not None or until_idle is not None or instance:
            raise UsageError(
                "--retrain-every, --until-idle and --instance belong to `learn` itself: "
                f"drop them before `learn {ctx.invoked_subcommand}`"
            )
        return
    cli = ctx.find_object(CliContext)
    assert cli is not None
    cli.override("learning", retrain_every_ms=_retrain_every_ms(retrain_every))
    _run(cli, until_idle, instance)


def _check_window(cli: CliContext) -> None:
    s = cli.settings.learning
    if s.window_ms <= s.label_delay_ms + s.validation_ms:
        raise UsageError(
            f"the training window ({s.window_ms} ms) must be longer than the label delay "
            f"({s.label_delay_ms} ms) plus the validation period ({s.validation_ms} ms): raise "
            "SENTINEL_LEARNING_WINDOW_MS or lower SENTINEL_LEARNING_VALIDATION_MS"
        )


#: What ``max.poll.interval.ms`` leaves beyond the retrain budget (the batch before it).
POLL_MARGIN_MS = 60_000


def poll_interval_ms(configured_ms: int, retrain_budget_s: float) -> int:
    """The learner's ``max.poll.interval.ms``: the configured one, raised above the retrain
    budget (a retrain blocks the loops between two polls)."""
    return max(configured_ms, round(retrain_budget_s * 1000) + POLL_MARGIN_MS)


def _run(cli: CliContext, until_idle: float | None, instance: int) -> None:
    stop = stop_on_signals()  # first: a signal during start-up must still mean "stop cleanly"
    cli.run_as("learner")
    _check_window(cli)
    configured = cli.settings.kafka.max_poll_interval_ms
    budget = cli.settings.learning.retrain_budget_s
    cli.override("kafka", max_poll_interval_ms=poll_interval_ms(configured, budget))
    from stream_sentinel.transport.topics import Topics

    settings = cli.settings
    clients = cli.client_factory(kafka=True, redis=True, registry=True)
    backends = clients.backends()
    learner, announcer = _learner(cli, clients, backends, instance)
    topics = Topics.from_settings(settings)
    click.echo(
        f"learner: group {settings.learning.group_id} on {topics.decision_features} and "
        f"{topics.fraud_feedback}; training set in Redis DB2 (learn:*)"
    )
    try:
        with naming_the_broker(settings, "learner"):
            announcer.prepare()  # a stack that cannot take the event fails before any move
            learner.start()
            learner.run(stop.is_set, until_idle)
    finally:
        learner.close()
        backends.close()
    rows, labels, too_old, undecodable = learner.read_counts()
    click.echo(
        f"rows {rows:,} and labels {labels:,} read ({too_old:,} older than the window, "
        f"{undecodable:,} undecodable); "
        f"{len(learner.outcomes)} retrain(s)"
    )
    for outcome in learner.outcomes:
        moved = f"{outcome.version} -> {outcome.alias}" if outcome.version else "no model"
        click.echo(f"  {moved} ({outcome.trigger}): {outcome.reason}")


def _learner(
    cli: CliContext, clients: ClientFactory, backends: Backends, instance: int
) -> tuple[Learner, Announcer]:
    """The learner service on these backends: its two loops, the registry, the announcer."""
    from stream_sentinel.learning.learner.consumers import learner_loops
    from stream_sentinel.learning.learner.retrain import Retrainer
    from stream_sentinel.learning.learner.service import Learner
    from stream_sentinel.learning.learner.store import TrainingSetStore
    from stream_sentinel.learning.model_events import Announcer
    from stream_sentinel.learning.registry import ModelRegistry
    from stream_sentinel.transport.topics import Topics
    from stream_sentinel.wire.serde import Serde

    settings = cli.settings
    serde = Serde.from_settings(settings, clients.registry())
    topics = Topics.from_settings(settings)
    announcer = Announcer(backends.broker, serde, topics)
    registry = ModelRegistry(backends.state, cli.clock, announce=announcer)
    detector = settings.detector
    retrainer = Retrainer(
        TrainingSetStore(backends.state),
        registry,
        settings.learning,
        detector.band_rates,
        detector.alert_level,
    )
    loops = learner_loops(
        backends.broker,
        backends.state,
        serde,
        topics,
        settings.learning.group_id,
        settings.learning.window_ms,
        instance,
        detector.max_batch,
    )
    return Learner(loops, backends.state, retrainer, settings.learning), announcer


@learn.command("retrain-now")
@click.option("--reason", default="asked from the command line", help="Why (kept with it).")
@click.option("--actor", default=None, help="Who asks (default: cli:<your user name>).")
@pass_cli
def retrain_now(cli: CliContext, reason: str, actor: str | None) -> None:
    """Ask the learner for a retrain; it acts on it once caught up on decision-features."""
    from stream_sentinel.learning.retrain_requests import request_retrain

    store = cli.state_store()
    try:
        request = request_retrain(store, reason, actor or f"cli:{getpass.getuser()}", cli.clock)
    finally:
        store.close()
    click.echo(
        f"retrain requested ({request.request_id[:8]}, by {request.actor}: {request.reason}); "
        "a running learner acts on it once caught up, a stopped one when it starts"
    )


@learn.command("status")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_cli
def status(cli: CliContext, as_json: bool) -> None:
    """Show the training set (rows, frauds, window), the last and next retrain, the last
    decision."""
    from stream_sentinel.learning.learner.status import read_status, status_lines

    store = cli.state_store()
    try:
        found = read_status(store)
    finally:
        store.close()
    if as_json:
        click.echo(json.dumps(found, indent=2, sort_keys=True))
    else:
        for line in status_lines(found):
            click.echo(line)


COMMANDS = [learn]
