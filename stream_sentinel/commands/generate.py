"""`stream-sentinel generate`: synthetic card payments with labelled fraud, to Kafka or a file."""

from __future__ import annotations

import secrets
from pathlib import Path

import click

from stream_sentinel.commands.context import CliContext, pass_cli


def _print_scenarios() -> None:
    from stream_sentinel.generator.scenarios import SCENARIOS

    for scenario in SCENARIOS.values():
        click.echo(f"{scenario.name:<16}{scenario.description}")


@click.command("generate")
@click.option(
    "--rate",
    type=float,
    default=None,
    help="Target transactions per second; 0 = as fast as possible "
    "[default: 0 to a file, 1000 to Kafka].",
)
@click.option("--count", type=int, default=None, help="Stop after this many transactions.")
@click.option("--duration", default=None, help="Stop after this wall time (90s, 30m, 12h).")
@click.option(
    "--users",
    type=int,
    default=10_000,
    show_default=True,
    help="Size of the simulated population (up to 10,000,000).",
)
@click.option(
    "--fraud-rate",
    type=float,
    default=0.01,
    show_default=True,
    help="Share of transactions that are fraud (0..1).",
)
@click.option(
    "--scenario",
    default="baseline",
    show_default=True,
    help="Drift scenario (see --list-scenarios).",
)
@click.option(
    "--switch-at",
    default="0.5",
    show_default=True,
    help="Drift switch: a fraction of the run (0.5, 50%) or simulated time after the start (2d).",
)
@click.option("--list-scenarios", is_flag=True, help="List the drift scenarios and exit.")
@click.option(
    "--label-delay",
    default="30m",
    show_default=True,
    help="Minimum delay before a transaction's label is released (90s, 30m, 7d).",
)
@click.option(
    "--legit-label-share",
    type=float,
    default=0.05,
    show_default=True,
    help="Share of legitimate transactions confirmed with a LEGIT label.",
)
@click.option(
    "--label-noise",
    type=float,
    default=0.0,
    show_default=True,
    help="Share of labels that are wrong.",
)
@click.option(
    "--missing-labels",
    type=float,
    default=0.0,
    show_default=True,
    help="Share of fraud that is never reported.",
)
@click.option(
    "--time-scale",
    default="auto",
    show_default=True,
    help="Simulated seconds per wall second, or 'auto' (users make ~4 tx a day).",
)
@click.option(
    "--end-time",
    default=None,
    help="End of the simulated period: 'now' or ISO time "
    "[default: now to Kafka, 2025-01-01T00:00Z to a file].",
)
@click.option(
    "--seed", type=int, default=None, help="Seed for a reproducible run [default: random]."
)
@click.option(
    "--output",
    "-o",
    type=click.Path(path_type=Path),
    default=None,
    help="Write a labelled file (.csv or .jsonl, optional .gz) instead of Kafka.",
)
@pass_cli
def generate(cli: CliContext, list_scenarios: bool, seed: int | None, **options: object) -> None:
    """Stream synthetic transactions with labelled fraud patterns and delayed labels.

    To Kafka (topic `transactions`, Avro, key = user_id; labels to `fraud-feedback`) or, with
    --output, to a file whose `is_fraud` and `fraud_pattern` columns are ground truth for
    training and evaluation only (never features).
    """
    if list_scenarios:
        _print_scenarios()
        return
    from rich.console import Console

    from stream_sentinel.generator.launch import Launch
    from stream_sentinel.generator.request import GenerateRequest

    cli.run_as("generator")
    request = GenerateRequest(seed=secrets.randbelow(2**31) if seed is None else seed, **options)  # type: ignore[arg-type]
    outcome = Launch(lambda: cli.settings, Console(), Console(stderr=True)).run(request)
    if outcome.delivery.errors:
        raise click.exceptions.Exit(1)


COMMANDS = [generate]
