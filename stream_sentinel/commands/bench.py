"""`stream-sentinel bench throughput|latency|scaling|all`: measured speed and memory, beside the
ceiling and the naive way, on the real stack. See docs/benchmarks.md."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path
from typing import cast

import click

from stream_sentinel.commands.context import CliContext, pass_cli


def _int_list(flag: str) -> click.types.FuncParamType:
    def parse(text: str | tuple[int, ...]) -> tuple[int, ...]:
        from stream_sentinel.bench.options import parse_int_list
        from stream_sentinel.errors import UsageError

        if isinstance(text, tuple):
            return text
        try:
            return parse_int_list(text, flag)
        except UsageError as exc:
            raise click.BadParameter(str(exc)) from None

    return click.types.FuncParamType(parse)


@click.command("bench")
@click.argument("mode", type=click.Choice(["throughput", "latency", "scaling", "all"]))
@click.option(
    "--count",
    type=int,
    default=200_000,
    show_default=True,
    help="Transactions preloaded for throughput and for each scaling population.",
)
@click.option(
    "--users",
    type=int,
    default=100_000,
    show_default=True,
    help="Simulated users for throughput and latency.",
)
@click.option(
    "--duration",
    "duration_s",
    type=float,
    default=10.0,
    show_default=True,
    help="Measured seconds per latency point (after --warmup).",
)
@click.option(
    "--warmup",
    "warmup_s",
    type=float,
    default=2.0,
    show_default=True,
    help="Seconds at the start of each latency point left out of the figures.",
)
@click.option(
    "--rates",
    type=_int_list("--rates"),
    metavar="N,N,...",
    default="1000,5000,20000",
    show_default=True,
    help="Latency mode: generator rates (transactions/s), comma-separated.",
)
@click.option(
    "--guarantee",
    type=click.Choice(["exactly-once", "at-least-once"]),
    default=None,
    help="Processing guarantee [default: exactly-once; latency runs both].",
)
@click.option(
    "--naive-count",
    "naive_records",
    type=int,
    default=5_000,
    show_default=True,
    help="The naive detector stops after this many records ...",
)
@click.option(
    "--naive-seconds",
    type=float,
    default=20.0,
    show_default=True,
    help="... or this many seconds, whichever comes first.",
)
@click.option(
    "--scaling-users",
    type=_int_list("--scaling-users"),
    metavar="N,N,...",
    default="10000,1000000",
    show_default=True,
    help="Scaling mode: population sizes.",
)
@click.option(
    "--workers",
    "scaling_workers",
    type=_int_list("--workers"),
    metavar="N,N,...",
    default="1,2",
    show_default=True,
    help="Scaling mode: detector worker counts.",
)
@click.option("--seed", type=int, default=7, show_default=True, help="Generator seed.")
@click.option(
    "--own-stack",
    is_flag=True,
    help="Start a private Kafka + Redis (4gb) + registry on free ports, and stop it "
    "afterwards, instead of using the configured stack.",
)
@click.option(
    "--feature-log/--no-feature-log",
    default=None,
    help="Whether the detectors write each decision's features to decision-features "
    "(default: as SENTINEL_DETECTOR_FEATURE_LOG says; off: to measure what it costs).",
)
@click.option(
    "--json",
    "json_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Also write every figure to this JSON file.",
)
@pass_cli
def bench(cli: CliContext, mode: str, json_path: Path | None, **values: object) -> None:
    """Measure our detector on the real stack beside the ceiling and the naive way.

    throughput: preloaded transactions to decisions (tx/s, CPU per 1,000 tx, batch sizes,
    Redis bytes per user) beside a raw pass-through and a naive per-message detector.
    latency: the generator at fixed rates while the detector runs; p50..max from the input's
    Kafka timestamp to the decision visible to a read_committed reader. scaling: 1 vs 2
    workers, 10k vs 1M users. Every run cleans up its topics and keys.
    """
    from rich.console import Console

    from stream_sentinel.bench.options import BenchOptions, Mode
    from stream_sentinel.bench.report import print_report
    from stream_sentinel.bench.run import run_bench

    options = BenchOptions(**values).validate()  # type: ignore[arg-type]
    if json_path is not None and not json_path.parent.is_dir():
        raise click.BadParameter(
            f"directory {json_path.parent} does not exist", param_hint="--json"
        )
    console, err = Console(), Console(stderr=True)
    if not console.is_terminal:
        console = Console(width=160)  # a file or pipe: keep the tables' rows on one line
    command = "stream-sentinel " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    progress = lambda message: err.print(message, highlight=False)  # noqa: E731
    document = run_bench(cli.settings, cast(Mode, mode), options, progress, command)
    print_report(console, document)
    if json_path is not None:
        json_path.write_text(json.dumps(document, indent=2) + "\n")
        err.print(f"figures written to {json_path}", highlight=False)


COMMANDS = [bench]
