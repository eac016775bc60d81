"""`stream-sentinel backtest`: replay a labelled history through the detector in event time,
with labels released only after a realistic delay, and report how well it would have done."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from stream_sentinel.commands.context import CliContext, pass_cli


@click.command("backtest")
@click.argument("data", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--map",
    "mapping",
    multiple=True,
    metavar="FIELD=COLUMN,...",
    help="Map columns onto Transaction fields (required: user_id, amount, timestamp). "
    "Unmapped fields come from columns of the same name.",
)
@click.option("--label-column", required=True, help="Ground truth: 1/0, true/false, fraud/legit.")
@click.option(
    "--time-format",
    default="auto",
    show_default=True,
    help="auto, iso, epoch-s, epoch-ms, hours (from --time-origin) or a strptime pattern.",
)
@click.option("--time-origin", default=None, help="Time of hour offset 0 (e.g. 2024-01-01).")
@click.option("--timezone", default="UTC", show_default=True, help="Zone of naive times.")
@click.option("--assume-sorted", is_flag=True, help="Rows are in event-time order already.")
@click.option("--label-delay", default="7d", show_default=True, help="When a label is known.")
@click.option("--warmup", default="14d", show_default=True, help="State-building period.")
@click.option("--retrain-every", default=None, help="Retrain this often (e.g. 7d).")
@click.option("--train-window", default=None, help="Train on the latest released labels only.")
@click.option(
    "--learner",
    type=click.Choice(["batch", "online", "both"]),
    default="batch",
    show_default=True,
    help="Model kinds each retrain trains: LightGBM, the River online model, or one of each "
    "(compared by the promotion policy).",
)
@click.option(
    "--validation",
    default=None,
    help="The learner's validation period, the latest labelled one (default: the settings' "
    "learning.validation_ms, SENTINEL_LEARNING_VALIDATION_MS, 3d); --train-window includes it.",
)
@click.option(
    "--model",
    "model_path",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Use this model (artifact or model store) instead of training one.",
)
@click.option(
    "--top-k",
    "-k",
    "k",
    default=100,
    show_default=True,
    type=click.IntRange(1),
    help="k of the daily Card Precision@k.",
)
@click.option("--output", type=click.Path(path_type=Path, dir_okay=False), default=None)
@click.option("--report", type=click.Path(path_type=Path, dir_okay=False), default=None)
@click.option(
    "--batch-size",
    default=20_000,
    show_default=True,
    type=click.IntRange(1, 100_000),
    help="Transactions per detector batch.",
)
@click.option(
    "--batch-span",
    default="1h",
    show_default=True,
    help="Most event time one batch may span (labels reach state at batch boundaries).",
)
@click.option(
    "--backend",
    type=click.Choice(["embedded", "local"]),
    default="embedded",
    show_default=True,
    help="In-process backends, or Kafka + Redis of `infra up` (own topic prefix).",
)
@pass_cli
def backtest(cli: CliContext, data: Path, **options: Any) -> None:
    """Backtest the detector on a labelled history (CSV or JSONL, optionally .gz)."""
    from rich.console import Console

    from stream_sentinel.backtest.render import models_table, report_table, scored_by_table
    from stream_sentinel.backtest.report import write_report

    console = Console(stderr=True)
    for flag in ("output", "report"):
        _check_writable(options[flag], f"--{flag}")
    run = _run(cli, data, options, console)
    if options["output"] is not None:
        from stream_sentinel.backtest.outcomes import write_scores

        write_scores(options["output"], run.history, run.replay.outcomes, run.evaluation_start_ms)
        console.print(f"scores: {options['output']}")
    if options["report"] is not None:
        write_report(options["report"], run.report)
        console.print(f"report: {options['report']}")
    out = Console()
    out.print(report_table(run.report))
    for table in (models_table(run.report), scored_by_table(run.report)):
        if table is not None:
            out.print(table)


def _run(cli: CliContext, data: Path, options: dict[str, Any], console: Any) -> Any:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from stream_sentinel.backtest.run import run_backtest, validation_of

    _check_learning_flags(options)
    backtest_options = _options(data, options)
    validation_of(backtest_options, cli.settings)  # before reading the history
    columns = (
        TextColumn("replay"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    )
    bar = Progress(*columns, console=console)
    tasks: list[Any] = []  # the bar appears when the replay starts

    def progress(done: int, total: int) -> None:
        if not tasks:
            bar.start()
            tasks.append(bar.add_task("replay", total=total, rate=""))
        elapsed = bar.tasks[0].elapsed or 0.0
        rate = f"{done / elapsed:,.0f} tx/s" if elapsed else ""
        bar.update(tasks[0], completed=done, total=total, rate=rate)

    try:
        return run_backtest(backtest_options, cli.settings, progress, bar.console.print)
    finally:
        if tasks:
            bar.stop()


def _options(data: Path, options: dict[str, Any]) -> Any:
    from stream_sentinel.backtest.mapping import ColumnMap
    from stream_sentinel.backtest.run import BacktestOptions
    from stream_sentinel.backtest.timeparse import TimeSpec, parse_origin, parse_timezone

    zone = parse_timezone(options["timezone"])
    origin = options["time_origin"]
    return BacktestOptions(
        path=data,
        mapping=ColumnMap.parse(options["mapping"]),
        label_column=options["label_column"],
        times=TimeSpec(
            options["time_format"], zone, parse_origin(origin, zone) if origin else None
        ),
        assume_sorted=options["assume_sorted"],
        label_delay_ms=_ms(options["label_delay"], "--label-delay"),
        warmup_ms=_ms(options["warmup"], "--warmup"),
        retrain_every_ms=_optional_ms(options["retrain_every"], "--retrain-every"),
        train_window_ms=_optional_ms(options["train_window"], "--train-window"),
        learner=options["learner"],
        validation_ms=_optional_ms(options["validation"], "--validation"),
        model_path=options["model_path"],
        k=options["k"],
        batch_rows=options["batch_size"],
        batch_span_ms=_ms(options["batch_span"], "--batch-span") or None,
        backend=options["backend"],
    )


LEARNING_FLAGS = ("learner", "validation", "train_window")


def _check_learning_flags(options: dict[str, Any]) -> None:
    """With --model and no --retrain-every nothing is trained: the learner's flags would be
    ignored, so they are refused (a comparison run must not silently skip its learner)."""
    from click.core import ParameterSource

    from stream_sentinel.errors import UsageError

    if options["model_path"] is None or options["retrain_every"] is not None:
        return
    context = click.get_current_context()
    given = [
        f"--{name.replace('_', '-')}"
        for name in LEARNING_FLAGS
        if context.get_parameter_source(name) is ParameterSource.COMMANDLINE
    ]
    if given:
        raise UsageError(
            f"{', '.join(given)}: used only when the backtest trains, and with --model and no "
            "--retrain-every it trains nothing: add --retrain-every (e.g. 7d) or leave "
            f"{', '.join(given)} out"
        )


def _check_writable(path: Path | None, flag: str) -> None:
    """Fail before a long replay, not after it."""
    from stream_sentinel.errors import UsageError

    if path is not None and not path.resolve().parent.is_dir():
        raise UsageError(f"{flag} {path}: the directory {path.parent} does not exist")


def _ms(text: str, what: str) -> int:
    from stream_sentinel.generator.durations import parse_duration

    return round(parse_duration(text, what=what) * 1000)


def _optional_ms(text: str | None, what: str) -> int | None:
    if text is None:
        return None
    value = _ms(text, what)
    if value <= 0:
        from stream_sentinel.errors import UsageError

        raise UsageError(f"{what} {text!r} must be longer than zero")
    return value


COMMANDS = [backtest]
