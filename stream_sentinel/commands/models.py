"""`stream-sentinel models`: the model registry (Redis DB3) — versions, aliases, their history.

``promote`` and ``rollback`` announce each move on ``model-events``; running detectors follow it
and switch between two batches (see docs/learning.md).
"""

from __future__ import annotations

import getpass
import json
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import click

from stream_sentinel.commands.context import CliContext, pass_cli

if TYPE_CHECKING:
    from stream_sentinel.learning.aliases import AliasMove
    from stream_sentinel.learning.registry import ModelRegistry

CHAMPION = "champion"


@contextmanager
def open_registry(cli: CliContext, announce: bool = False) -> Iterator[ModelRegistry]:
    """The registry on the configured Redis; with ``announce``, alias moves are published on
    model-events (so Kafka and the schema registry must answer too)."""
    from stream_sentinel.learning.registry import ModelRegistry

    cli.run_as("admin")
    with ExitStack() as resources:
        clients = cli.client_factory(kafka=announce, redis=True, registry=announce)
        store = clients.state()
        resources.callback(store.close)
        announcer = None
        if announce:
            from stream_sentinel.learning.model_events import Announcer
            from stream_sentinel.transport.topics import Topics
            from stream_sentinel.wire.serde import Serde

            broker = clients.broker()
            resources.callback(broker.close)
            serde = Serde.from_settings(cli.settings, clients.registry())
            announcer = Announcer(broker, serde, Topics.from_settings(cli.settings))
            announcer.prepare()  # a stack that cannot take the event refuses the move
        yield ModelRegistry(store, cli.clock, announce=announcer)


def _echo_lines(lines: list[str]) -> None:
    for line in lines:
        click.echo(line)


_actor = click.option(
    "--actor", default=None, help="Who moves the alias (default: cli:<your user name>)."
)
_reason = click.option("--reason", default="", help="Why, recorded in the alias's history.")
_alias = click.option("--alias", default=CHAMPION, show_default=True, help="The alias to move.")
_as_json = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")


@click.group("models")
def models() -> None:
    """Inspect the model registry and move its aliases (champion, challenger, shadow, ...)."""


@models.command("list")
@_as_json
@pass_cli
def list_models(cli: CliContext, as_json: bool) -> None:
    """List registered versions, newest first, with their aliases and validation metrics."""
    from stream_sentinel.learning.registry import describe
    from stream_sentinel.learning.views import list_lines

    with open_registry(cli) as registry:
        versions, aliases = registry.versions(), registry.aliases()
    if as_json:
        newest = sorted(versions, key=lambda v: (-v.created_ms, v.version))
        click.echo(json.dumps([describe(v, aliases) for v in newest], indent=2, sort_keys=True))
    else:
        _echo_lines(list_lines(versions, aliases))


@models.command("show")
@click.argument("version")
@_as_json
@pass_cli
def show(cli: CliContext, version: str, as_json: bool) -> None:
    """Show one version (an id, a unique prefix of one, or an alias) in full."""
    from stream_sentinel.learning.registry import describe
    from stream_sentinel.learning.views import show_lines

    with open_registry(cli) as registry:
        found, aliases = registry.get(registry.resolve(version)), registry.aliases()
    if as_json:
        click.echo(json.dumps(describe(found, aliases), indent=2, sort_keys=True))
    else:
        _echo_lines(show_lines(found, aliases))


@models.command("promote")
@click.argument("version")
@_alias
@_reason
@_actor
@pass_cli
def promote(cli: CliContext, version: str, alias: str, reason: str, actor: str | None) -> None:
    """Point an alias (champion by default) at a version, recording who, when and why."""
    from stream_sentinel.errors import AliasUnchanged

    with open_registry(cli, announce=True) as registry:
        target = registry.resolve(version)
        try:
            moved = registry.promote(target, alias, reason, _who(actor))
        except AliasUnchanged:
            click.echo(f"{alias} is {target} already: no move recorded")
            return
        _report(moved)


@models.command("rollback")
@_alias
@_reason
@_actor
@pass_cli
def rollback(cli: CliContext, alias: str, reason: str, actor: str | None) -> None:
    """Move an alias back to the version it pointed at before its latest move."""
    with open_registry(cli, announce=True) as registry:
        _report(registry.rollback(alias, reason or "rollback", _who(actor)))


@models.command("announce")
@_alias
@pass_cli
def announce(cli: CliContext, alias: str) -> None:
    """Publish an alias's latest move on model-events again (after a failed announcement)."""
    with open_registry(cli, announce=True) as registry:
        moved = registry.announce_latest(alias)
    click.echo(f"announced {moved.alias} -> {moved.version} (move #{moved.seq})")


def _who(actor: str | None) -> str:
    return actor or f"cli:{getpass.getuser()}"


def _report(moved: AliasMove) -> None:
    click.echo(
        f"{moved.alias}: {moved.previous or '-'} -> {moved.version} "
        f"({moved.kind} #{moved.seq}, by {moved.actor}); announced on model-events"
    )


@models.command("history")
@click.option("--alias", default=None, help="Only this alias's moves.")
@_as_json
@pass_cli
def history(cli: CliContext, alias: str | None, as_json: bool) -> None:
    """Show every alias move, newest first: time, alias, previous -> new version, actor, reason."""
    from stream_sentinel.learning.views import history_lines

    with open_registry(cli) as registry:
        moves = registry.history(alias)
    if as_json:
        click.echo(json.dumps([asdict(m) for m in moves], indent=2, sort_keys=True))
    else:
        _echo_lines(history_lines(moves))


@models.command("diff")
@click.argument("first")
@click.argument("second")
@pass_cli
def diff(cli: CliContext, first: str, second: str) -> None:
    """Compare two versions: metadata, metrics and feature sets side by side."""
    from stream_sentinel.learning.views import diff_lines

    with open_registry(cli) as registry:
        a, b = (registry.get(registry.resolve(name)) for name in (first, second))
    _echo_lines(diff_lines(a, b))


@models.command("export")
@click.argument("version")
@click.argument("directory", type=click.Path(path_type=Path, dir_okay=True, file_okay=False))
@pass_cli
def export(cli: CliContext, version: str, directory: Path) -> None:
    """Write a version into a model-store directory (readable by backtest --model)."""
    from stream_sentinel.learning.exchange import export_version

    with open_registry(cli) as registry:
        path = export_version(registry, version, directory)
    click.echo(f"exported {path.name} to {path}")


@models.command("import")
@click.argument("directory", type=click.Path(path_type=Path, exists=True, file_okay=False))
@pass_cli
def import_models(cli: CliContext, directory: Path) -> None:
    """Register every model in a model-store directory, after verifying each one."""
    from stream_sentinel.learning.exchange import import_directory

    with open_registry(cli) as registry:
        results = import_directory(registry, directory)
    for version, new in results:
        click.echo(f"{version.version}: {'imported' if new else 'already registered'}")


COMMANDS = [models]
