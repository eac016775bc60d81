"""The console's clients: built once from the factory, on first use, shared by every page.

The console reads outside every consumer group (group-less, assigned consumers that commit
nothing), so it can never move a pipeline group's offsets. Its only writes go through the
alert desk (:class:`~stream_sentinel.alerts.operator.AlertDesk`) and the audit log.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from stream_sentinel.alerts.operator import AlertDesk
from stream_sentinel.clients.backends import Backends, ClientFactory
from stream_sentinel.clock import SYSTEM_CLOCK, Clock
from stream_sentinel.config import Settings
from stream_sentinel.console.first_records import FirstRecordTimes
from stream_sentinel.registry.client import SchemaRegistryClient
from stream_sentinel.state.base import StateStore
from stream_sentinel.transport.base import Admin, Broker
from stream_sentinel.transport.topics import Topics
from stream_sentinel.wire.serde import AvroDecoder, Serde

T = TypeVar("T")


class ConsoleSources:
    """Lazily built, long-lived clients of one console process."""

    def __init__(
        self, clients: ClientFactory, settings: Settings, clock: Clock = SYSTEM_CLOCK
    ) -> None:
        self.clients = clients
        self.settings = settings
        self.clock = clock
        self.topics = Topics.from_settings(settings)
        self._built: dict[str, object] = {}
        self._lock = threading.RLock()  # one lazy client may build another

    def _once(self, name: str, build: Callable[[], T]) -> T:
        with self._lock:
            if name not in self._built:
                self._built[name] = build()
            return self._built[name]  # type: ignore[return-value]

    @property
    def broker(self) -> Broker:
        return self._once("broker", self.clients.broker)

    @property
    def first_records(self) -> FirstRecordTimes:
        """Oldest unread records' timestamps, shared by the sampler and every page."""
        return self._once("first_records", lambda: FirstRecordTimes(lambda: self.broker))

    @property
    def admin(self) -> Admin:
        return self._once("admin", self.clients.admin)

    @property
    def state(self) -> StateStore:
        return self._once("state", self.clients.state)

    @property
    def registry(self) -> SchemaRegistryClient:
        return self._once("registry", self.clients.registry)

    @property
    def serde(self) -> Serde:
        """Lookup-only against a registry with users: there the console is a reader (it
        publishes only the case desk's two subjects, which their writers register); an open
        registry it registers on, as any producer does."""
        registry = self.settings.registry
        lookup_only = registry.username is not None or registry.secrets_file is not None
        return self._once(
            "serde",
            lambda: Serde.from_settings(
                self.settings, self.registry, auto_register=not lookup_only
            ),
        )

    @property
    def decoder(self) -> AvroDecoder:
        """Decodes any Confluent-framed Avro value by its schema id, as written."""
        return self._once("decoder", lambda: AvroDecoder(self.registry))

    def desk(self) -> AlertDesk:
        """The analyst's desk: the same code path as `alerts resolve` and `alerts unblock`."""
        backends = Backends(self.clients.kind, self.broker, self.state)
        return AlertDesk(self.settings, backends, self.serde, self.clock)

    def close(self) -> None:
        if self.clients.kind == "embedded":
            return  # the embedded backends belong to whoever made the factory
        with self._lock:
            for client in self._built.values():
                close = getattr(client, "close", None)
                if close is not None:
                    close()
            self._built.clear()
