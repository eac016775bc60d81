"""Settings to clients, in one place: the broker, its admin, the state store, the registry.

Two factories answer the same questions. :class:`RealClients` builds Kafka, Redis and registry
clients for the configured endpoints; :class:`EmbeddedClients` hands out one in-process broker,
state store and registry, so everything asking it in this process meets the same data. Neither
contacts a service when building a client (each connects on first use), and the backend modules
(confluent-kafka, redis-py, the in-process ones) are imported only when a client is built.

>>> clients = EmbeddedClients()
>>> clients.broker() is clients.broker(), clients.state().name
(True, 'memory')
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Literal, Protocol

from stream_sentinel.clients.registry import connect_registry
from stream_sentinel.clock import SYSTEM_CLOCK, Clock
from stream_sentinel.config import KafkaSettings, Settings
from stream_sentinel.registry.client import SchemaRegistryClient
from stream_sentinel.state.base import StateStore
from stream_sentinel.transport.base import Admin, Broker

if TYPE_CHECKING:
    from stream_sentinel.registry_server.local_client import LocalRegistryClient
    from stream_sentinel.state.memory import MemoryStateStore
    from stream_sentinel.state.redis import RedisStateStore
    from stream_sentinel.transport.kafka import KafkaBroker
    from stream_sentinel.transport.kafka_admin import KafkaAdmin
    from stream_sentinel.transport.memory import MemoryBroker

BackendName = Literal["embedded", "local"]
ADMIN_TIMEOUT_S = 15.0


@dataclass
class Backends:
    """The broker and state store one process works with."""

    kind: BackendName
    broker: Broker
    state: StateStore

    def close(self) -> None:
        self.broker.close()
        self.state.close()


class ClientFactory(Protocol):
    """What a command or tool asks for; :class:`RealClients` and :class:`EmbeddedClients`."""

    kind: ClassVar[BackendName]

    def broker(self) -> Broker: ...

    def admin(self, timeout_s: float = ADMIN_TIMEOUT_S) -> Admin: ...

    def state(self) -> StateStore: ...

    def registry(self) -> SchemaRegistryClient: ...

    def backends(self) -> Backends: ...


@dataclass(frozen=True)
class RealClients:
    """Kafka, Redis and the schema registry of ``settings``: a new client on every call.

    ``principal`` is the service a command runs as (``"detector"``): on a SASL connection its
    Kafka clients log in as that user, and with a Redis or registry secrets file its state store
    and registry client as that user too, the passwords read from the secrets files
    (``SENTINEL_{KAFKA,REDIS,REGISTRY}_SECRETS_FILE``). Without one, the configured users are
    used.
    """

    kind: ClassVar[BackendName] = "local"
    settings: Settings
    principal: str | None = None

    @property
    def kafka_settings(self) -> KafkaSettings:
        kafka = self.settings.kafka
        return kafka if self.principal is None else kafka.as_principal(self.principal)

    def broker(self) -> KafkaBroker:
        from stream_sentinel.transport.kafka import KafkaBroker

        return KafkaBroker(self.kafka_settings)

    def admin(self, timeout_s: float = ADMIN_TIMEOUT_S) -> KafkaAdmin:
        return self.broker().admin(timeout_s)

    def state(self) -> RedisStateStore:
        from stream_sentinel.state.redis import RedisStateStore

        redis = self.settings.redis
        return RedisStateStore(redis if self.principal is None else redis.as_user(self.principal))

    def registry(self) -> SchemaRegistryClient:
        """HTTP for ``http(s)://`` URLs, the process-wide in-memory one for ``memory://NAME``."""
        registry = self.settings.registry
        return connect_registry(
            registry if self.principal is None else registry.as_user(self.principal)
        )

    def backends(self) -> Backends:
        return Backends(self.kind, self.broker(), self.state())


class EmbeddedClients:
    """One in-process broker, state store and registry (a private one) for this factory's
    callers; ``clock`` drives the broker's and the store's time."""

    kind: ClassVar[BackendName] = "embedded"

    def __init__(self, clock: Clock = SYSTEM_CLOCK) -> None:
        from stream_sentinel.registry_server.local_client import LocalRegistryClient
        from stream_sentinel.state.memory import MemoryStateStore
        from stream_sentinel.transport.memory import MemoryBroker

        self._broker = MemoryBroker(clock=clock)
        self._state = MemoryStateStore(clock)
        self._registry = LocalRegistryClient.in_memory()

    def broker(self) -> MemoryBroker:
        return self._broker

    def admin(self, timeout_s: float = ADMIN_TIMEOUT_S) -> Admin:
        return self._broker.admin()  # in process: nothing to time out

    def state(self) -> MemoryStateStore:
        return self._state

    def registry(self) -> LocalRegistryClient:
        return self._registry

    def backends(self) -> Backends:
        return Backends(self.kind, self._broker, self._state)


def real_backends(settings: Settings) -> Backends:
    """Kafka and Redis at the configured endpoints (nothing is contacted yet)."""
    return RealClients(settings).backends()


def embedded_backends(clock: Clock = SYSTEM_CLOCK) -> Backends:
    """An in-process broker and state store, shared by everything in this process."""
    return EmbeddedClients(clock).backends()
