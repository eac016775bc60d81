"""`stream-sentinel schema-registry`: serve the Confluent-compatible schema registry."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

import click

from stream_sentinel.commands.context import CliContext, pass_cli

if TYPE_CHECKING:
    from stream_sentinel.config import Settings
    from stream_sentinel.registry_server.service import RegistryInstance

#: The election's session: how long a dead leader keeps the leadership (the broker's minimum).
ELECTION_SESSION_MS = 6_000


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
@click.option(
    "--advertised-url",
    default=None,
    metavar="URL",
    help="Where other instances reach this one to forward writes"
    " (default: http(s)://HOST:PORT; set it when binding 0.0.0.0).",
)
@click.option(
    "--tls-cert",
    default=None,
    metavar="PEM",
    help="Serve HTTPS with this certificate chain (with --tls-key).",
)
@click.option("--tls-key", default=None, metavar="PEM", help="The certificate's private key.")
@pass_cli
def schema_registry(
    cli: CliContext,
    host: str,
    port: int,
    store: str,
    advertised_url: str | None,
    tls_cert: str | None,
    tls_key: str | None,
) -> None:
    """Serve the Confluent-compatible schema registry over HTTP.

    State lives in the compacted _schemas topic (created if missing): every instance follows it
    continuously, one elected instance writes it, and the others forward writes there, so any
    number of instances on the same Kafka serve one registry and survive restarts. With
    SENTINEL_REGISTRY_ROLES, every request needs HTTP basic auth (docs/security.md).
    """
    import uvicorn

    from stream_sentinel.registry_server.app import create_app
    from stream_sentinel.registry_server.auth import users_from_settings

    # Leadership changes and skipped _schemas records are worth reading in the service's log.
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    settings = cli.settings
    if (tls_cert is None) != (tls_key is None):
        raise click.UsageError("--tls-cert and --tls-key go together")
    users = users_from_settings(settings.registry)
    url = advertised_url or f"{'https' if tls_cert else 'http'}://{host}:{port}"
    instance = _open(settings, url) if store == "kafka" else _in_memory()
    subjects = len(instance.core.subjects())
    click.echo(f"schema registry on {url} ({store} store: {subjects} subjects)", err=True)
    app = create_app(
        instance.core,
        settings.registry.max_request_bytes,
        on_shutdown=instance.close,
        forward_writes=instance.forward_writes,
        users=users,
    )
    uvicorn.run(
        app, host=host, port=port, log_level="warning", ssl_certfile=tls_cert, ssl_keyfile=tls_key
    )


def _open(settings: Settings, url: str) -> RegistryInstance:
    from stream_sentinel.clients.backends import RealClients
    from stream_sentinel.registry_server.service import await_leader, open_replicated

    session_ms = min(settings.kafka.session_timeout_ms, ELECTION_SESSION_MS)
    heartbeat_ms = min(settings.kafka.heartbeat_interval_ms, session_ms // 3)
    # The group's range assignor orders members by id, which starts with the client id: one
    # carrying the start time keeps the leadership with the oldest instance when others join.
    member = f"{settings.kafka.client_id}-registry-{time.time_ns():020d}"
    election = settings.with_overrides(
        kafka={
            "session_timeout_ms": session_ms,
            "heartbeat_interval_ms": heartbeat_ms,
            "client_id": member,
        }
    )
    instance = open_replicated(
        settings, RealClients(settings).broker(), RealClients(election).broker(), url
    )
    await_leader(instance, settings.infra.start_timeout_s)
    return instance


def _in_memory() -> RegistryInstance:
    from stream_sentinel.registry_server.core import in_memory_core
    from stream_sentinel.registry_server.service import RegistryInstance

    return RegistryInstance(in_memory_core())


COMMANDS = [schema_registry]
