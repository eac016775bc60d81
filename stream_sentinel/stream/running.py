"""What every long-running consumer of ours shares: the idle check and the heartbeat."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any

from stream_sentinel.errors import TransportError
from stream_sentinel.state import keys
from stream_sentinel.state.base import Batch, StateStore
from stream_sentinel.transport.base import Consumer, TopicPartition

log = logging.getLogger(__name__)
HEARTBEAT_S = 2.0
STATUS_TTL_MS = 60_000
#: A worker that got no partitions at all counts as idle once it has waited this long.
UNASSIGNED_GRACE_S = 15.0
#: How often an idle consumer asks the broker whether it is there.
PROBE_EVERY_S = 5.0


def consumer_caught_up(consumer: Consumer) -> bool:
    """True when the consumer has read every assigned partition to its high watermark.

    Watermarks come from what the fetches reported (no request per check). A partition it has
    not read from yet counts from its committed offset (its position is unknown until a record
    arrives), so a partition someone else already finished is done."""
    try:
        return _caught_up(consumer)
    except TransportError:  # the broker is away: not caught up (BrokerOutage counts the time)
        return False


def _caught_up(consumer: Consumer) -> bool:
    unread: list[TopicPartition] = []
    for tp in consumer.assignment():
        low, high = consumer.watermarks(tp, 5.0, cached=True)
        position = consumer.position(tp)
        if position is None:
            if high > low:
                unread.append(tp)
        elif high > position:
            return False
    if not unread:
        return True
    committed = consumer.committed(unread, 5.0)
    return all(
        (committed.get(tp) or 0) >= consumer.watermarks(tp, 5.0, cached=True)[1] for tp in unread
    )


def publish_heartbeat(store: StateStore, group_id: str, worker: str, summary: Any) -> None:
    """A worker's figures for `stream-sentinel status` (a key with a TTL); never raises."""
    key = keys.worker_status(group_id, worker)
    try:
        blob = json.dumps(summary).encode()
        store.execute(Batch().set(keys.PIPELINE, key, blob, STATUS_TTL_MS))
    except Exception as exc:  # a heartbeat must never stop the pipeline
        log.warning("heartbeat not written: %s", exc)


def consumer_lag(consumer: Consumer) -> dict[int, int]:
    """Records not yet consumed per assigned partition, from the fetches' high watermarks
    (partitions whose watermarks the broker cannot give now are left out)."""
    lag = {}
    for tp in consumer.assignment():
        try:
            low, high = consumer.watermarks(tp, 5.0, cached=True)
        except TransportError:
            continue
        position = consumer.position(tp)
        lag[tp.partition] = max(high - (low if position is None else position), 0)
    return lag


class BrokerOutage:
    """Counts how long the broker has been unreachable while a consumer sits idle: librdkafka
    retries on its own, but past ``limit_s`` the process ends (status 1) so that the outage is
    reported and a supervisor takes over, instead of an idle process that looks healthy."""

    def __init__(
        self,
        probe: Callable[[], bool],
        limit_s: float,
        monotonic: Callable[[], float] = time.monotonic,
        every_s: float = PROBE_EVERY_S,
    ) -> None:
        self._probe, self.limit_s, self._monotonic = probe, limit_s, monotonic
        self._every_s = every_s
        self._checked = float("-inf")
        self._down_since: float | None = None

    def idle(self) -> None:
        """The consumer got nothing: probe the broker (now and then); raise past the limit."""
        now = self._monotonic()
        if now - self._checked < self._every_s:
            return
        self._checked = now
        if self._probe():
            if self._down_since is not None:
                log.warning("Kafka answers again after %.0f s", now - self._down_since)
            self._down_since = None
            return
        self._down_since = now if self._down_since is None else self._down_since
        down = now - self._down_since
        if down >= self.limit_s:
            raise TransportError(
                f"unreachable for {down:.0f} s, the outage limit (SENTINEL_KAFKA_OUTAGE_LIMIT_S)"
            )
        log.warning("Kafka unreachable for %.0f s; retrying (limit %.0f s)", down, self.limit_s)

    def busy(self) -> None:
        """Records arrived: the broker is up."""
        self._down_since = None
