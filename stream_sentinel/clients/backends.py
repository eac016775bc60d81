"""Choosing the backends: real (Kafka + Redis) or embedded (in process), behind one interface."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from stream_sentinel.clock import SYSTEM_CLOCK, Clock
from stream_sentinel.config import Settings
from stream_sentinel.state.base import StateStore
from stream_sentinel.transport.base import Broker

BackendName = Literal["embedded", "local"]


@dataclass
class Backends:
    """The broker and state store one process works with."""

    kind: BackendName
    broker: Broker
    state: StateStore

    def close(self) -> None:
        self.broker.close()
        self.state.close()


def real_backends(settings: Settings) -> Backends:
    """Kafka and Redis at the configured endpoints (nothing is contacted yet)."""
    from stream_sentinel.state.redis import RedisStateStore
    from stream_sentinel.transport.kafka import KafkaBroker

    return Backends("local", KafkaBroker(settings.kafka), RedisStateStore(settings.redis))


def embedded_backends(clock: Clock = SYSTEM_CLOCK) -> Backends:
    """An in-process broker and state store, shared by everything in this process."""
    from stream_sentinel.state.memory import MemoryStateStore
    from stream_sentinel.transport.memory import MemoryBroker

    return Backends("embedded", MemoryBroker(clock=clock), MemoryStateStore(clock))


def open_backends(settings: Settings, kind: BackendName) -> Backends:
    return real_backends(settings) if kind == "local" else embedded_backends()
