"""`stream-sentinel <command>`: the one entry point.

Commands live in :mod:`stream_sentinel.commands`, one module per concept; each module exposes
``COMMANDS`` (a list of click commands or groups) and imports heavy libraries inside the command
functions, so ``--help`` stays instant.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from typing import Any

import click

from stream_sentinel import __version__, commands
from stream_sentinel.commands.context import CliContext
from stream_sentinel.config import PROFILES
from stream_sentinel.errors import ConfigError, SentinelError, UsageError


class _Group(click.Group):
    """Turns SentinelError into a one-line message and a non-zero exit, without a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (UsageError, ConfigError) as exc:
            click.secho(f"error: {exc}", fg="red", err=True)
            sys.exit(2)
        except SentinelError as exc:
            click.secho(f"error: {exc}", fg="red", err=True)
            sys.exit(1)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--env",
    "profile",
    type=click.Choice(PROFILES),
    default=None,
    help="Settings profile (default: $SENTINEL_ENV, else development).",
)
@click.version_option(__version__, prog_name="stream-sentinel")
@click.pass_context
def cli(ctx: click.Context, profile: str | None) -> None:
    """Stream-Sentinel: real-time fraud detection on Apache Kafka and Redis."""
    if isinstance(ctx.obj, CliContext):  # handed in by a test (embedded clients, a clock)
        ctx.obj.profile = profile or ctx.obj.profile
    else:
        ctx.obj = CliContext(profile=profile)


def _register_commands() -> None:
    for module_info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{commands.__name__}.{module_info.name}")
        for command in getattr(module, "COMMANDS", []):
            cli.add_command(command)


_register_commands()


def main() -> None:
    cli(prog_name="stream-sentinel")


if __name__ == "__main__":
    main()
