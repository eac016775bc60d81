"""Wiring of the registry service: its log (Kafka's ``_schemas`` topic or memory), core and app."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from stream_sentinel.clock import SYSTEM_CLOCK, Clock
from stream_sentinel.config import Settings
from stream_sentinel.errors import RegistryError, ServiceUnavailable, TransportError
from stream_sentinel.registry_server.core import RegistryCore
from stream_sentinel.registry_server.store import MemoryLog, SchemaLog, TopicLog
from stream_sentinel.transport.base import Broker
from stream_sentinel.transport.retry import Backoff, retrying
from stream_sentinel.transport.topics import Topics

log = logging.getLogger(__name__)
T = TypeVar("T")
FIRST_WAIT_S, MAX_WAIT_S = 0.2, 2.0  # while Kafka settles after a (re)start
_NOT_READY = (TransportError, ServiceUnavailable, RegistryError)


def open_log(settings: Settings, broker: Broker | None, clock: Clock = SYSTEM_CLOCK) -> SchemaLog:
    """The registry's log: the ``_schemas`` topic on ``broker`` (created if missing, retried
    while Kafka settles), or a memory list when there is no broker."""
    if broker is None:
        return MemoryLog()
    topic_log = TopicLog(broker, Topics.from_settings(settings).schemas)
    _retry(topic_log.ensure_topic, settings.infra.start_timeout_s, clock)
    return topic_log


def open_core(log_: SchemaLog, timeout_s: float, clock: Clock = SYSTEM_CLOCK) -> RegistryCore:
    """The registry core with its state rebuilt from ``log_`` (retried while Kafka settles)."""
    return _retry(lambda: RegistryCore(log_), timeout_s, clock)


def _retry(action: Callable[[], T], timeout_s: float, clock: Clock) -> T:
    backoff = Backoff(FIRST_WAIT_S, MAX_WAIT_S, budget_s=timeout_s)
    try:
        return retrying(action, backoff, retriable=_NOT_READY, clock=clock, on_retry=_warn)
    except _NOT_READY as exc:
        raise ServiceUnavailable(
            f"the schema registry could not load its state from Kafka: {exc}"
        ) from exc


def _warn(exc: Exception, attempt: int, wait: float) -> None:
    log.warning("registry store not ready (%s); retrying in %.1f s", exc, wait)
