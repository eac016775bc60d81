"""What every command shares: the invocation's settings, the stop signal, error wording."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from stream_sentinel.clock import SYSTEM_CLOCK, Clock
from stream_sentinel.config import Settings, load_settings
from stream_sentinel.errors import TransportError

if TYPE_CHECKING:
    from stream_sentinel.clients.backends import ClientFactory
    from stream_sentinel.state.base import StateStore


@dataclass
class CliContext:
    """Per-invocation state: the chosen profile and lazily built settings.

    ``clients`` replaces the real backends (a test hands in embedded ones); ``clock`` is the
    time the learning plane's commands record; ``principal`` is the service the command runs as
    (:meth:`run_as`)."""

    profile: str | None = None
    overrides: dict[str, dict[str, Any]] = field(default_factory=dict)
    _settings: Settings | None = None
    clients: ClientFactory | None = None
    clock: Clock = SYSTEM_CLOCK
    principal: str | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            loaded = load_settings(self.profile, overrides=self.overrides)
            principal = self.principal
            self._settings = loaded if principal is None else as_principal(loaded, principal)
        return self._settings

    def run_as(self, principal: str) -> None:
        """This command's clients log in as ``principal`` (``"detector"``) wherever the
        configured secrets file names it; elsewhere the configured users stay."""
        self.principal = principal
        self._settings = None

    def require(
        self, *, kafka: bool = False, redis: bool = False, registry: bool = False
    ) -> Settings:
        """The settings, once the services this command needs answer (else a clear error)."""
        from stream_sentinel.ops.preflight import require_services

        require_services(self.settings, kafka=kafka, redis=redis, registry=registry)
        return self.settings

    def client_factory(
        self, *, kafka: bool = False, redis: bool = False, registry: bool = False
    ) -> ClientFactory:
        """The injected clients, else the real ones once the services named answer."""
        if self.clients is not None:
            return self.clients
        from stream_sentinel.clients.backends import RealClients

        return RealClients(self.require(kafka=kafka, redis=redis, registry=registry))

    def state_store(self) -> StateStore:
        """The state store: the injected clients' one, else Redis once it answers."""
        if self.clients is not None:
            return self.clients.state()
        from stream_sentinel.clients.backends import RealClients

        return RealClients(self.require(redis=True)).state()

    def override(self, section: str, **values: Any) -> None:
        """Apply CLI flags on top of the environment (only the ones the user gave)."""
        given = {key: value for key, value in values.items() if value is not None}
        if given:
            self.overrides.setdefault(section, {}).update(given)
            self._settings = None


def as_principal(settings: Settings, principal: str) -> Settings:
    """``settings`` with each connection's user switched to ``principal`` where that
    connection's secrets file names it (no file, or a file without it: the configured user)."""
    kafka, redis, registry = settings.kafka, settings.redis, settings.registry
    updated: dict[str, Any] = {}
    if principal in _named(kafka.secrets_file, "kafka"):
        updated["kafka"] = kafka.as_principal(principal)
    if principal in _named(redis.secrets_file, "redis"):
        updated["redis"] = redis.as_user(principal)
    if principal in _named(registry.secrets_file, "registry"):
        updated["registry"] = registry.as_user(principal)
    return settings.model_copy(update=updated)


def _named(secrets_file: Path | None, server: str) -> set[str]:
    """The users ``secrets_file`` holds passwords for on ``server`` (none without a file)."""
    if secrets_file is None or not secrets_file.exists():
        return set()
    from stream_sentinel.config.credentials import read_credentials

    return set(getattr(read_credentials(secrets_file), server))


F = TypeVar("F", bound=Callable[..., Any])

pass_cli = click.make_pass_decorator(CliContext)


def until_idle_option(help_text: str) -> Callable[[F], F]:
    """``--until-idle SECONDS`` of a consumer-group command (None: run until stopped)."""
    return click.option(
        "--until-idle",
        type=click.FloatRange(min=0),
        default=None,
        metavar="SECONDS",
        help=help_text,
    )


def instance_option(help_text: str) -> Callable[[F], F]:
    """``--instance N`` of a consumer-group command (its transactional id's number)."""
    return click.option(
        "--instance", type=click.IntRange(min=0), default=0, show_default=True, help=help_text
    )


def stop_on_signals() -> threading.Event:
    """Ctrl-C / SIGTERM set the returned event: finish the batch in hand, commit, close, exit 0.

    A second Ctrl-C aborts at once. Install it first thing, so a signal during start-up still
    means "stop cleanly"."""
    stop = threading.Event()

    def handler(signum: int, frame: Any) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        click.echo("\nstopping after the current batch (Ctrl-C again to abort)", err=True)

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    return stop


@contextmanager
def naming_the_broker(settings: Settings, what: str) -> Iterator[None]:
    """A broker operation that failed for good ends ``what`` with the broker's address: the
    transport's messages name the call that failed, not the service."""
    try:
        yield
    except TransportError as exc:
        if type(exc) is not TransportError:
            raise  # fenced, unpublishable, ...: these say themselves what happened
        raise TransportError(
            f"the {what} stopped: Kafka at {settings.kafka.bootstrap} failed ({exc}). Is the "
            "broker running? `stream-sentinel infra status` shows the local one"
        ) from exc
