"""`stream-sentinel experiments`: champion/challenger experiments and their decision rule."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from stream_sentinel.commands.context import CliContext, pass_cli


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
    "--label-delay-days",
    type=click.FloatRange(min=0.0),
    default=7.0,
    show_default=True,
    help="Median delay of a label.",
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
    label_delay_days: float,
    json_path: Path | None,
) -> None:
    """Run the decision rule on simulated experiments of known truth; report its error rates."""
    from stream_sentinel.logic.experiments.rule import Rule
    from stream_sentinel.logic.experiments.simulate import Design, summary

    if share is not None and mode != "split":
        raise click.BadParameter("--share sets the split; add --mode split", param_hint="--share")
    settings = cli.settings.experiments
    if base_recall + settings.mde > 1.0:
        raise click.BadParameter(
            f"a better challenger would need recall {base_recall + settings.mde:.2f} > 1: "
            f"lower --base-recall below {1 - settings.mde:.2f}",
            param_hint="--base-recall",
        )
    rule = Rule(
        settings.alpha, settings.mde, settings.min_labels, settings.max_labels, settings.max_days
    )
    design = Design(
        mode,
        0.5 if share is None else share,
        base_recall,
        frauds_per_day=frauds_per_day,
        label_delay_days=label_delay_days,
    )
    found = summary(runs, seed, rule, design)
    _print(found)
    if json_path is not None:
        json_path.write_text(json.dumps(found, indent=2) + "\n", encoding="utf-8")
        click.echo(f"wrote {json_path}")


def _print(found: dict[str, Any]) -> None:
    design = found["design"]
    split = f" {design['share']:.0%} challenger" if design["mode"] == "split" else ""
    click.echo(
        f"{found['runs']} runs per truth, {design['mode']}{split}, alpha {found['alpha']}, "
        f"effect {found['mde']}, at most {found['max_labels']} labels, read after every label"
    )
    click.echo(
        f"{'truth':8} {'promoted':>9} {'retired':>8} {'undecided':>10} "
        f"{'labels':>8} {'days':>6} {'naive promoted':>15} {'naive retired':>14}"
    )
    for truth, row in found["by_truth"].items():
        labels, days = row["median_labels_to_decision"], row["median_days_to_decision"]
        click.echo(
            f"{truth:8} {row['promoted']:>9} {row['retired']:>8} {row['undecided']:>10} "
            f"{'-' if labels is None else f'{labels:.0f}':>8} "
            f"{'-' if days is None else f'{days:.1f}':>6} "
            f"{row['naive_promoted']:>15} {row['naive_retired']:>14}"
        )
    low, high = found["false_promotion_ci"]
    click.echo(
        f"false promotions {found['false_promotion_rate']:.1%} (95% CI {low:.1%}-{high:.1%}), "
        f"false stops {found['false_stop_rate']:.1%}, power {found['power']:.1%}; "
        f"a naive z-test read as often: false promotions "
        f"{found['naive_false_promotion_rate']:.1%}, "
        f"false stops {found['naive_false_stop_rate']:.1%}"
    )


COMMANDS = [experiments]
