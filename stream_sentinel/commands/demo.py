"""`stream-sentinel demo`: generator -> detector -> alert processor -> label feedback, live."""

from __future__ import annotations

import click

from stream_sentinel.commands.context import CliContext, pass_cli

#: Off a terminal (CI, pipes) rich assumes 80 columns; the summary's lines need more.
NON_TTY_WIDTH = 160


def _seconds(ctx: click.Context, param: click.Parameter, value: str) -> float:
    """``60``, ``90s``, ``2m``: a wall-clock duration in seconds."""
    from stream_sentinel.errors import UsageError
    from stream_sentinel.generator.durations import parse_duration

    try:
        return float(value) if value.replace(".", "", 1).isdigit() else parse_duration(value)
    except (UsageError, ValueError):
        raise click.BadParameter(
            f"{value!r} is not a duration: give seconds (60) or a duration (90s, 2m)"
        ) from None


@click.command("demo")
@click.option(
    "--duration",
    default="60",
    show_default=True,
    callback=_seconds,
    help="How long the generator runs (seconds, or 90s / 2m), between 5 s and 1 h.",
)
@click.option(
    "--rate",
    default=2000.0,
    show_default=True,
    type=float,
    help="Transactions per second the generator aims for (10 to 20,000).",
)
@click.option(
    "--backend",
    type=click.Choice(["embedded", "local"]),
    default="embedded",
    show_default=True,
    help="embedded: everything in this process; local: a running `infra up` stack.",
)
@click.option("--seed", default=1, show_default=True, type=int, help="Seed of the traffic.")
@click.option(
    "--users",
    default=10_000,
    show_default=True,
    type=int,
    help="Simulated customers (100 to 1,000,000).",
)
@click.option(
    "--keep",
    is_flag=True,
    help="--backend local: leave the run's topics and Redis keys for inspection.",
)
@click.option(
    "--console-port",
    type=click.IntRange(0, 65535),
    default=None,
    help="Serve the console on 127.0.0.1 at this port while the demo runs (0: any free port).",
)
@click.option(
    "--keep-open",
    is_flag=True,
    help="After the summary, keep the console open on the run's data until Ctrl-C.",
)
@pass_cli
def demo(
    cli: CliContext,
    duration: float,
    rate: float,
    backend: str,
    seed: int,
    users: int,
    keep: bool,
    console_port: int | None,
    keep_open: bool,
) -> None:
    """The whole system on synthetic traffic, live: throughput, latency, alerts, actions,
    labels and detection quality, then a summary (no Kafka, Redis or Java needed)."""
    from rich.console import Console

    from stream_sentinel.demo.options import DemoOptions
    from stream_sentinel.demo.run import run_demo

    options = DemoOptions(
        duration,
        rate,
        backend,  # type: ignore[arg-type]
        seed,
        users,
        keep,
        console_port,
        keep_open,
    )
    options.validate()  # bad input fails before anything is trained or started
    console = Console(highlight=False)
    if not console.is_terminal:
        console = Console(highlight=False, width=NON_TTY_WIDTH)
    run_demo(options, cli.settings, console)


COMMANDS = [demo]
