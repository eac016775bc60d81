"""`stream-sentinel schema-registry`: serve the Confluent-compatible schema registry."""

from __future__ import annotations

import click

from stream_sentinel.commands.context import CliContext, pass_cli


@click.command("schema-registry")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option("--port", default=8081, show_default=True, type=int, help="Port to listen on.")
@click.option(
    "--store",
    type=click.Choice(["kafka", "memory"]),
    default="kafka",
    show_default=True,
    help="Keep state in Kafka's _schemas topic, or in memory (lost at exit).",
)
@pass_cli
def schema_registry(cli: CliContext, host: str, port: int, store: str) -> None:
    """Serve the Confluent-compatible schema registry over HTTP.

    State lives in the compacted _schemas topic (created if missing) and is rebuilt from it at
    start, so subjects, versions, ids and configs survive restarts.
    """
    import uvicorn

    from stream_sentinel.clients.backends import RealClients
    from stream_sentinel.registry_server.app import create_app
    from stream_sentinel.registry_server.service import open_core, open_log

    settings = cli.settings
    broker = RealClients(settings).broker() if store == "kafka" else None
    schema_log = open_log(settings, broker)
    core = open_core(schema_log, settings.infra.start_timeout_s)
    click.echo(
        f"schema registry on http://{host}:{port} ({store} store: {len(core.subjects())} subjects)",
        err=True,
    )
    app = create_app(core, settings.registry.max_request_bytes, on_shutdown=schema_log.close)
    uvicorn.run(app, host=host, port=port, log_level="warning")


COMMANDS = [schema_registry]
