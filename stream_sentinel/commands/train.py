"""`stream-sentinel train`: a LightGBM model from a labelled file, with an honest report.

The model is registered in the model registry (DB3); it becomes champion when there is none
yet, or with ``--promote``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from stream_sentinel.commands.context import CliContext, pass_cli
from stream_sentinel.commands.models import CHAMPION, open_registry


@click.command("train")
@click.argument("data", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--label-column",
    default="is_fraud",
    show_default=True,
    help="Column holding the ground truth (1/0, true/false, fraud/legit).",
)
@click.option(
    "--label-delay",
    default="1d",
    show_default=True,
    help="How long after a transaction its label becomes known (90s, 30m, 12h, 7d).",
)
@click.option(
    "--holdout",
    default=0.2,
    show_default=True,
    type=click.FloatRange(0.05, 0.5),
    help="Latest share of the history held out for the report.",
)
@click.option("--promote", is_flag=True, help="Make the new model champion even if one exists.")
@pass_cli
def train(
    cli: CliContext,
    data: Path,
    label_column: str,
    label_delay: str,
    holdout: float,
    promote: bool,
) -> None:
    """Train a fraud model on a labelled transactions file (CSV/JSONL, optionally .gz)."""
    from stream_sentinel.learning.models import draft_of
    from stream_sentinel.scoring.workflow import train_from_file

    delay_ms = _duration_ms(label_delay)
    with open_registry(cli) as registry:
        first = registry.aliases().get(CHAMPION) is None
    # Redis, and Kafka when the model will be champion (announced), answer before hours of
    # training.
    with open_registry(cli, announce=promote or first) as registry:
        artifact, report = train_from_file(
            data, label_column, delay_ms, cli.settings, holdout, echo=click.echo
        )
        _print_report(report.as_dict(), artifact.bands.to_json())
        version, new = registry.register(*draft_of(artifact, delay_ms))
        click.echo(f"model {version.version} {'registered' if new else 'was already registered'}")
        champion = registry.aliases().get(CHAMPION)
        if champion == version.version or not (promote or champion is None):
            click.echo(f"champion stays {champion} (`stream-sentinel models promote` moves it)")
            return
        reason = f"trained on {data.name}" + (" (--promote)" if promote else " (first model)")
        # (champion is None only when it was before training: an alias is never unset)
        registry.promote(version.version, CHAMPION, reason, actor="train")
    click.echo(f"champion: {champion or '-'} -> {version.version}; announced on model-events")


def _duration_ms(text: str) -> int:
    from stream_sentinel.errors import UsageError
    from stream_sentinel.generator.durations import parse_duration

    try:
        return int(parse_duration(text) * 1000)
    except (UsageError, ValueError) as exc:
        raise click.BadParameter(str(exc), param_hint="--label-delay") from None


def _print_report(report: dict[str, Any], bands: dict[str, float]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    console.print(
        f"held-out: {report['test_rows']:,} of {report['rows']:,} transactions "
        f"(fraud rate {report['fraud_rate']:.2%}): ROC AUC {report['roc_auc']:.4f}, "
        f"average precision {report['average_precision']:.4f} ({report['seconds']:.1f} s)"
    )
    by_threshold = {round(v, 12): k for k, v in bands.items()}
    table = Table("band", "threshold", "alert rate", "precision", "recall")
    for row in report["thresholds"]:
        band = by_threshold.get(round(row["threshold"], 12), "")
        table.add_row(
            band,
            f"{row['threshold']:.4f}",
            f"{row['alert_rate']:.2%}",
            f"{row['precision']:.3f}",
            f"{row['recall']:.3f}",
        )
    console.print(table)


COMMANDS = [train]
