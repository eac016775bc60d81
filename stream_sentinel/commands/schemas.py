"""`stream-sentinel schemas register|list|check`: the bundled data contracts and the registry."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from stream_sentinel.commands.context import CliContext, pass_cli
from stream_sentinel.errors import RegistryError
from stream_sentinel.registry.client import SchemaRegistryClient
from stream_sentinel.transport.topics import Topics

if TYPE_CHECKING:
    from stream_sentinel.wire.schemas import BundledSchema

_ABSENT = (40401, 40403)


@click.group("schemas")
def schemas() -> None:
    """Register, list and check the Avro schemas of the project's topics."""


@schemas.command("register")
@pass_cli
def register(cli: CliContext) -> None:
    """Register every bundled schema under <topic>-value (Transaction v1, then v2). Idempotent."""
    from stream_sentinel.clients.backends import RealClients
    from stream_sentinel.wire.schemas import CATALOG

    cli.run_as("admin")
    registry = RealClients(cli.settings).registry()
    topics = Topics.from_settings(cli.settings)
    try:
        for schema in CATALOG:
            click.echo(register_one(registry, schema, topics))
    finally:
        registry.close()


def register_one(registry: SchemaRegistryClient, schema: BundledSchema, topics: Topics) -> str:
    """Register one bundled schema unless it (or a newer version) is there; say what happened."""
    from stream_sentinel.wire.schemas import CATALOG

    subject = schema.subject(topics)
    label = f"{subject:<28} {schema.name} v{schema.version}"
    found = _registered_version(registry, subject, schema)
    if found is not None:
        return f"{label}: already registered (version {found[0]}, id {found[1]})"
    newer = [
        other
        for other in CATALOG
        if other.name == schema.name
        and other.version > schema.version
        and _registered_version(registry, subject, other) is not None
    ]
    if newer:
        return f"{label}: skipped (v{newer[0].version} is already registered)"
    schema_id = registry.register(subject, schema.text)
    version = registry.lookup(subject, schema.text).version
    return f"{label}: registered (version {version}, id {schema_id})"


def _registered_version(
    registry: SchemaRegistryClient, subject: str, schema: BundledSchema
) -> tuple[int, int] | None:
    try:
        found = registry.lookup(subject, schema.text)
    except RegistryError as exc:
        if exc.error_code in _ABSENT:
            return None
        raise
    return found.version, found.schema_id


@schemas.command("list")
@pass_cli
def list_subjects(cli: CliContext) -> None:
    """Subjects in the registry with their versions, latest id and compatibility level."""
    from stream_sentinel.clients.backends import RealClients

    cli.run_as("admin")
    registry = RealClients(cli.settings).registry()
    try:
        subjects = registry.subjects()
        if not subjects:
            click.echo("no subjects (run: stream-sentinel schemas register)")
        for subject in subjects:
            latest = registry.get_version(subject)
            click.echo(
                f"{subject:<28} versions {registry.versions(subject)}  latest id "
                f"{latest.schema_id}  compatibility {registry.get_compatibility(subject)}"
            )
    finally:
        registry.close()


@schemas.command("check")
@click.argument("schema_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--subject", required=True, help="Subject to check against, e.g. transactions-value.")
@pass_cli
def check(cli: CliContext, schema_file: Path, subject: str) -> None:
    """Would SCHEMA_FILE be accepted under SUBJECT? Exit 0 if compatible, 1 if not."""
    from stream_sentinel.clients.backends import RealClients
    from stream_sentinel.registry_server.avro_schema import parse_schema

    text = schema_file.read_text(encoding="utf-8")
    parse_schema(text)  # an invalid schema fails here, with the parser's reason
    cli.run_as("admin")
    registry = RealClients(cli.settings).registry()
    try:
        level = registry.get_compatibility(subject)
        verdict = registry.check_compatibility(subject, text)
    finally:
        registry.close()
    if verdict.is_compatible:
        click.echo(f"compatible: {schema_file.name} can be registered under {subject} ({level})")
        return
    click.echo(f"incompatible: {schema_file.name} breaks {level} compatibility of {subject}")
    for message in verdict.messages:
        click.echo(f"  {message}")
    sys.exit(1)


COMMANDS = [schemas]
