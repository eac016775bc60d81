"""Wiring of the registry service: its log (Kafka's ``_schemas`` topic or memory), core and app.

On Kafka, an instance tails ``_schemas`` in a background thread (``follower.py``), takes part
in the leader election (``election.py``) and forwards writes to the leader when it is not it
(``forwarding.py``), so any number of instances can serve one registry.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from stream_sentinel.clock import SYSTEM_CLOCK, Clock
from stream_sentinel.config import Settings
from stream_sentinel.errors import RegistryError, ServiceUnavailable, TransportError
from stream_sentinel.registry_server.core import RegistryCore
from stream_sentinel.registry_server.election import REBALANCE_GRACE_S, GroupElection
from stream_sentinel.registry_server.follower import TailingFollower
from stream_sentinel.registry_server.replica import Replica
from stream_sentinel.registry_server.store import MemoryLog, SchemaLog, TopicLog
from stream_sentinel.transport.base import Broker
from stream_sentinel.transport.retry import Backoff, retrying
from stream_sentinel.transport.topics import Topics

log = logging.getLogger(__name__)
T = TypeVar("T")
FIRST_WAIT_S, MAX_WAIT_S = 0.2, 2.0  # while Kafka settles after a (re)start
_NOT_READY = (TransportError, ServiceUnavailable, RegistryError)
LEADER_HEADER = "x-schema-registry-leader"


def election_topic(schemas_topic: str) -> str:
    """The one-partition topic whose consumer group elects the leader."""
    return f"{schemas_topic}-leader-election"


def writer_id(schemas_topic: str) -> str:
    """The ``transactional.id`` every leader writes with: a new leader fences the old one."""
    return f"{schemas_topic}-registry-writer"


@dataclass
class RegistryInstance:
    """A running registry: its core, whether it forwards writes, and what to close at exit."""

    core: RegistryCore
    forward_writes: bool = False
    closers: list[Callable[[], None]] = field(default_factory=list)

    def close(self) -> None:
        for close in self.closers:
            close()


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


def open_replicated(
    settings: Settings,
    broker: Broker,
    election_broker: Broker,
    url: str,
    grace_s: float = REBALANCE_GRACE_S,
) -> RegistryInstance:
    """One instance of a registry on Kafka, serving at ``url``; it follows, elects, forwards."""
    timeout_s = settings.infra.start_timeout_s
    schemas = Topics.from_settings(settings).schemas
    topic_log = TopicLog(broker, schemas, transactional_id=writer_id(schemas))
    _retry(lambda: topic_log.ensure_topic([election_topic(schemas)]), timeout_s, SYSTEM_CLOCK)
    replica = Replica()
    follower = TailingFollower(topic_log, replica).start()
    election = GroupElection(
        election_broker, election_topic(schemas), url, topic_log, follower, replica, grace_s=grace_s
    ).start()
    core = _retry(
        lambda: RegistryCore(topic_log, follower, election, replica), timeout_s, SYSTEM_CLOCK
    )
    return RegistryInstance(core, True, [election.close, follower.close, topic_log.close])


def await_leader(instance: RegistryInstance, timeout_s: float) -> str:
    """Wait until this instance leads or the announced leader answers as one; its URL."""
    import httpx

    deadline = time.monotonic() + timeout_s
    leadership = instance.core.leadership
    while time.monotonic() < deadline:
        url = leadership.leader_url()
        if leadership.is_writable() and url is not None:
            return url
        if url is not None and not leadership.is_leader():
            try:
                answer = httpx.get(url.rstrip("/") + "/", timeout=1.0)
                if answer.headers.get(LEADER_HEADER) == "true":
                    return url
            except httpx.HTTPError:
                pass
        time.sleep(0.2)
    raise ServiceUnavailable(f"no schema registry leader was elected within {timeout_s:g} s")


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
