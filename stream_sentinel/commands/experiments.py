"""`stream-sentinel experiments`: champion/challenger experiments and their decision rule."""

from __future__ import annotations

import getpass
import json
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from stream_sentinel.commands.context import (
    CliContext,
    naming_the_broker,
    pass_cli,
    stop_on_signals,
    until_idle_option,
)

if TYPE_CHECKING:
    from stream_sentinel.learning.experiments.store import ExperimentStore
    from stream_sentinel.logic.experiments.definition import Experiment


@click.group("experiments")
def experiments() -> None:
    """Champion/challenger experiments: shadow scoring, user splits, a sequential test."""


@experiments.command("simulate")
@click.option(
    "--runs",
    type=click.IntRange(min=100),
    default=1000,
    show_default=True,
    help="Simulated experiments per truth (better, equal, worse).",
)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option(
    "--mode",
    type=click.Choice(["shadow", "split"]),
    default="shadow",
    show_default=True,
    help="Both models score every fraud, or each fraud one arm.",
)
@click.option(
    "--share",
    type=click.FloatRange(min=0.01, max=0.99),
    default=None,
    help="The challenger's share of users (split mode; default 0.5).",
)
@click.option(
    "--base-recall",
    type=click.FloatRange(min=0.05, max=0.9),
    default=0.7,
    show_default=True,
    help="The champion's recall at its alert budget.",
)
@click.option(
    "--frauds-per-day",
    type=click.FloatRange(min=0.1),
    default=40.0,
    show_default=True,
    help="Labelled frauds per day (for the days to a decision).",
)
@click.option(
    "--caught-delay-days",
    type=click.FloatRange(min=0.0),
    default=3.0,
    show_default=True,
    help="Median label delay of a fraud the deciding model flagged (investigated).",
)
@click.option(
    "--missed-delay-days",
    type=click.FloatRange(min=0.0),
    default=20.0,
    show_default=True,
    help="Median label delay of a fraud it missed (a chargeback).",
)
@click.option(
    "--deadline-days",
    type=click.FloatRange(min=0.1),
    default=None,
    help="When a transaction is counted (default: SENTINEL_EXPERIMENTS_LABEL_DEADLINE_DAYS).",
)
@click.option(
    "--correlation",
    type=click.FloatRange(min=0.0, max=0.99),
    default=0.6,
    show_default=True,
    help="How alike the two models' catches of one fraud are (shadow mode).",
)
@click.option(
    "--json",
    "json_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the figures here.",
)
@pass_cli
def simulate(
    cli: CliContext,
    runs: int,
    seed: int,
    mode: str,
    share: float | None,
    base_recall: float,
    frauds_per_day: float,
    caught_delay_days: float,
    missed_delay_days: float,
    deadline_days: float | None,
    correlation: float,
    json_path: Path | None,
) -> None:
    """Run the decision rule on simulated experiments of known truth; report its error rates."""
    from stream_sentinel.learning.experiments.views import simulation_lines
    from stream_sentinel.logic.experiments.simulate import Design, summary

    if share is not None and mode != "split":
        raise click.BadParameter("--share sets the split; add --mode split", param_hint="--share")
    settings = cli.settings.experiments
    if base_recall - settings.mde <= 0.0:
        raise click.BadParameter(
            f"a worse challenger would need recall {base_recall - settings.mde:.2f} <= 0: "
            f"raise --base-recall above {settings.mde:.2f}",
            param_hint="--base-recall",
        )
    if base_recall + settings.mde > 1.0:
        raise click.BadParameter(
            f"a better challenger would need recall {base_recall + settings.mde:.2f} > 1: "
            f"lower --base-recall below {1 - settings.mde:.2f}",
            param_hint="--base-recall",
        )
    rule, _ = _rule_and_limits(cli)
    design = Design(
        mode,
        0.5 if share is None else share,
        base_recall,
        correlation,
        frauds_per_day,
        caught_delay_days,
        missed_delay_days,
        settings.label_deadline_days if deadline_days is None else deadline_days,
    )
    found = summary(runs, seed, rule, design)
    for line in simulation_lines(found):
        click.echo(line)
    if json_path is not None:
        json_path.write_text(json.dumps(found, indent=2, allow_nan=False) + "\n", encoding="utf-8")
        click.echo(f"wrote {json_path}")


@contextmanager
def open_experiments(cli: CliContext) -> Iterator[ExperimentStore]:
    """The experiments store on the configured Redis (DB5)."""
    from stream_sentinel.learning.experiments.store import ExperimentStore

    store = cli.client_factory(redis=True).state()
    try:
        yield ExperimentStore(store, cli.clock)
    finally:
        store.close()


_actor = click.option("--actor", default=None, help="Who (default: cli:<your user name>).")
_as_json = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")


def _who(actor: str | None) -> str:
    return actor or f"cli:{getpass.getuser()}"


@experiments.command("start")
@click.option("--challenger", required=True, help="The version to test: id, prefix or alias.")
@click.option(
    "--mode",
    type=click.Choice(["shadow", "split"]),
    default="shadow",
    show_default=True,
    help="Score beside the champion, or decide a share of users.",
)
@click.option(
    "--share",
    type=click.FloatRange(min=0.01, max=0.5),
    default=None,
    help="The challenger's share of users (split mode), e.g. 0.1.",
)
@click.option(
    "--metric",
    type=click.Choice(["recall_at_budget"]),
    default="recall_at_budget",
    show_default=True,
    help="The primary metric the test decides on.",
)
@click.option("--reason", default="", help="Why, recorded in the experiment's history.")
@_actor
@pass_cli
def start(
    cli: CliContext,
    challenger: str,
    mode: str,
    share: float | None,
    metric: str,
    reason: str,
    actor: str | None,
) -> None:
    """Start an experiment of a challenger against the champion (one runs at a time)."""
    from stream_sentinel.commands.models import open_registry
    from stream_sentinel.errors import AliasUnchanged
    from stream_sentinel.learning.experiments.admission import admit
    from stream_sentinel.learning.experiments.policy import deadline_ms

    who = _who(actor)
    with open_registry(cli, announce=True) as registry, open_experiments(cli) as store:
        experiment = admit(
            registry,
            challenger,
            mode,
            share,
            metric,
            cli.clock.now_ms(),
            who,
            reason,
            deadline_ms(cli.settings.experiments),
        )
        store.start(experiment)
        alias = "shadow" if mode == "shadow" else "challenger"
        try:
            with suppress(AliasUnchanged):
                registry.promote(experiment.challenger, alias, f"experiment {experiment.id}", who)
        except Exception as exc:  # the experiment must not run without its alias
            store.end(experiment.id, "stopped", f"the {alias} alias could not be moved: {exc}", who)
            raise
        click.echo(f"started {experiment.id}: {store.history(experiment.id)[0].detail}")
    click.echo(
        f"{alias} -> {experiment.challenger}; `stream-sentinel experiments status` follows it"
    )


@experiments.command("stop")
@click.argument("experiment_id")
@click.option("--reason", default="", help="Why, recorded in the experiment's history.")
@_actor
@pass_cli
def stop(cli: CliContext, experiment_id: str, reason: str, actor: str | None) -> None:
    """Stop a running experiment; the champion stays and decides all traffic."""
    who = _who(actor)
    outcome = f"stopped by {who}" + (f": {reason}" if reason else "")
    with open_experiments(cli) as store:
        ended = store.end(experiment_id, "stopped", outcome, who)
    click.echo(f"{ended.id}: {ended.outcome}; champion {ended.champion} decides all traffic")


@experiments.command("list")
@_as_json
@pass_cli
def list_experiments(cli: CliContext, as_json: bool) -> None:
    """Every experiment, newest first."""
    from dataclasses import asdict

    from stream_sentinel.learning.experiments.views import list_lines

    with open_experiments(cli) as store:
        found = store.all()
    if as_json:
        click.echo(json.dumps([asdict(e) for e in found], indent=2))
        return
    for line in list_lines(found):
        click.echo(line)


#: What the service counted apart (docs/experiments.md, "The service").
LEFT_OUT = ("unscored:rows", "untagged:rows", "unscored:frauds", "labels:late")


@experiments.command("status")
@click.argument("experiment_id", required=False)
@_as_json
@pass_cli
def status(cli: CliContext, experiment_id: str | None, as_json: bool) -> None:
    """An experiment's arms, evidence, guard rails and history (default: the running one)."""
    from stream_sentinel.learning.experiments.policy import deadline_ms
    from stream_sentinel.learning.experiments.tally import bucket_width
    from stream_sentinel.learning.experiments.views import counting_line, status_json, status_lines
    from stream_sentinel.logic.experiments.standing import standing

    with open_experiments(cli) as store:
        experiment = _chosen(store, experiment_id)
        counts, history = store.counts_with_cost(experiment.id), store.history(experiment.id)
        settled = store.settled(experiment.id)
    rule, limits = _rule_and_limits(cli)
    found = standing(experiment, counts, rule, limits, cli.clock.now_ms())
    width = bucket_width(experiment.deadline_or(deadline_ms(cli.settings.experiments)))
    until = settled * width if settled else None
    if as_json:
        data = status_json(experiment, found, history)
        data["labels"] = {
            "settled_until_ms": until,
            **{name.replace(":", "_"): int(counts.get(name, 0)) for name in LEFT_OUT},
        }
        click.echo(json.dumps(data, indent=2, allow_nan=False))
        return
    counting = counting_line(counts, until)
    for line in status_lines(experiment, found, history, counting):
        click.echo(line)


def _chosen(store: ExperimentStore, experiment_id: str | None) -> Experiment:
    from stream_sentinel.errors import UsageError

    if experiment_id is not None:
        return store.get(experiment_id)
    found = store.active() or next(iter(store.all()), None)
    if found is None:
        raise UsageError(
            "no experiments yet: `stream-sentinel experiments start --challenger VERSION`"
        )
    return found


def _rule_and_limits(cli: CliContext) -> tuple[Any, Any]:
    from stream_sentinel.learning.experiments.policy import limits_of, rule_of

    return rule_of(cli.settings.experiments), limits_of(cli.settings.experiments)


@experiments.command("run")
@until_idle_option(
    "Exit once caught up (every assigned partition read) with nothing new for this long."
)
@pass_cli
def run(cli: CliContext, until_idle: float | None) -> None:
    """Count the running experiment's decisions and labels, settle them at their label
    deadline, and act on the decision rule, as experiments-group until stopped. Run one:
    a second one started fences the first (the same transactional ids)."""
    stop = stop_on_signals()  # first: a signal during start-up must still mean "stop cleanly"
    from stream_sentinel.learning.experiments.service import experiment_service
    from stream_sentinel.learning.model_events import Announcer
    from stream_sentinel.learning.registry import ModelRegistry
    from stream_sentinel.transport.topics import Topics
    from stream_sentinel.wire.serde import Serde

    cli.run_as("experiments")
    settings = cli.settings
    clients = cli.client_factory(kafka=True, redis=True, registry=True)
    backends = clients.backends()
    serde = Serde.from_settings(settings, clients.registry())
    topics = Topics.from_settings(settings)
    announcer = Announcer(backends.broker, serde, topics)
    registry = ModelRegistry(backends.state, cli.clock, announce=announcer)
    service = experiment_service(
        settings, backends.broker, backends.state, serde, registry, cli.clock
    )
    s = settings.experiments
    click.echo(
        f"experiments: group {topics.prefix}{s.group_id} on {topics.decision_features} and "
        f"{topics.fraud_feedback}; counted {s.label_deadline_days:g} days after each decision "
        "(an experiment started with another deadline keeps its own); "
        f"a better challenger: {s.promotion}"
    )
    try:
        with naming_the_broker(settings, "experiments service"):
            announcer.prepare()
            service.start()
            service.run(stop.is_set, until_idle)
    finally:
        service.close()
        backends.close()
    decisions, labels, frauds, undecodable = service.read_counts()
    click.echo(
        f"decisions {decisions:,} and labels {labels:,} counted for an experiment, "
        f"{frauds:,} labelled frauds settled, {undecodable:,} undecodable"
    )
    for ended in service.ended:
        click.echo(f"  {ended.id} {ended.status}: {ended.outcome}")


COMMANDS = [experiments]
