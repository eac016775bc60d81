"""Wiring of the registry service: its log (Kafka's ``_schemas`` topic or memory), core and app."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Literal, TypeVar

from stream_sentinel.config import Settings
from stream_sentinel.errors import RegistryError, ServiceUnavailable, TransportError
from stream_sentinel.registry_server.core import RegistryCore
from stream_sentinel.registry_server.store import MemoryLog, SchemaLog, TopicLog
from stream_sentinel.transport.base import Broker
from stream_sentinel.transport.topics import Topics

log = logging.getLogger(__name__)
T = TypeVar("T")
StoreKind = Literal["kafka", "memory"]


def open_log(settings: Settings, kind: StoreKind, broker: Broker | None = None) -> SchemaLog:
    """The registry's log: the ``_schemas`` topic (created if missing) or a memory list."""
    if kind == "memory":
        return MemoryLog()
    if broker is None:
        from stream_sentinel.transport.kafka import KafkaBroker

        broker = KafkaBroker(settings.kafka)
    topic_log = TopicLog(broker, Topics.from_settings(settings).schemas)
    _retry(topic_log.ensure_topic, settings.infra.start_timeout_s)
    return topic_log


def open_core(log_: SchemaLog, timeout_s: float) -> RegistryCore:
    """The registry core with its state rebuilt from ``log_`` (retried while Kafka settles)."""
    return _retry(lambda: RegistryCore(log_), timeout_s)


def _retry(action: Callable[[], T], timeout_s: float) -> T:
    deadline = time.monotonic() + timeout_s
    delay = 0.2
    while True:
        try:
            return action()
        except (TransportError, ServiceUnavailable, RegistryError) as exc:
            if time.monotonic() + delay > deadline:
                raise ServiceUnavailable(
                    f"the schema registry could not load its state from Kafka: {exc}"
                ) from exc
            log.warning("registry store not ready (%s); retrying in %.1f s", exc, delay)
            time.sleep(delay)
            delay = min(delay * 2, 2.0)
