"""Alarms in DB4, one per ``event_id``: the DriftEvent JSON in a hash keyed by its id, and the
ids in a sorted set by window start (the index). The same alarm closed twice (two instances,
a repaired batch) is one entry, the first one's; alarms of windows older than
:data:`~.keys.KEEP_MS` behind the one being written are dropped."""

from __future__ import annotations

from collections.abc import Sequence

from stream_sentinel.learning.drift import keys
from stream_sentinel.learning.drift.events import DriftEvent
from stream_sentinel.state.base import Batch, StateStore

EVER = float("inf")


def store_alarms(store: StateStore, batch: Batch, events: Sequence[DriftEvent], hour: int) -> None:
    """Add the window's new alarms to ``batch`` and trim the old ones (one read)."""
    [here, old] = store.execute(
        Batch()
        .zrangebyscore(keys.NS, keys.ALARMS, hour, hour)
        .zrangebyscore(keys.NS, keys.ALARMS, 0, hour - keys.KEEP_MS)
    )
    known = {_text(member) for member, _ in here}
    fresh = [e for e in events if e.event_id not in known]
    if fresh:
        batch.zadd(keys.NS, keys.ALARMS, {e.event_id: float(hour) for e in fresh})
        batch.hset(keys.NS, keys.ALARM_EVENTS, {e.event_id: e.encode().encode() for e in fresh})
    if old:
        batch.hdel(keys.NS, keys.ALARM_EVENTS, *(_text(member) for member, _ in old))
        batch.zremrangebyscore(keys.NS, keys.ALARMS, 0, hour - keys.KEEP_MS)


def read_alarms(store: StateStore, since_ms: int = 0) -> list[DriftEvent]:
    """Every alarm of a window from ``since_ms`` on, once per id, in window order."""
    [found] = store.execute(Batch().zrangebyscore(keys.NS, keys.ALARMS, since_ms, EVER))
    ids = sorted({_text(member) for member, _ in found})
    read = Batch()
    for event_id in ids:
        read.hget(keys.NS, keys.ALARM_EVENTS, event_id)
    blobs = store.execute(read) if ids else []
    return sorted(
        (DriftEvent.decode(blob) for blob in blobs if blob is not None),
        key=lambda e: (e.window_start, e.monitor, e.feature or ""),
    )


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value
