"""The hours' counts in DB4 and the event-time clock over the input partitions.

An hour's counts are one hash (``drift:window:{version}:{hour}``): a field per input partition,
written only in that partition's guarded write, and the field :data:`KEPT` for the rows kept
before the reference was built, written by the batch's lead with the reference itself.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping

import numpy as np

from stream_sentinel.learning.drift import keys
from stream_sentinel.learning.drift.rows import Rows
from stream_sentinel.learning.drift.writes import StepWrites
from stream_sentinel.logic.drift.reference import Reference
from stream_sentinel.logic.drift.window import HOUR_MS, WindowCounts
from stream_sentinel.state.base import Batch, StateStore

#: The window field holding the rows kept in DB4 before the reference was built (counted by
#: the lead in the write that builds the reference and deletes them, so never twice).
KEPT = "kept"

Partials = dict[int, dict[str, WindowCounts]]  # hour -> field -> counts


def stored_windows(store: StateStore, version: str, hours: list[int]) -> Partials:
    """The hours' counts as DB4 has them, per field."""
    read = Batch()
    for hour in hours:
        read.hgetall(keys.NS, keys.window(version, hour))
    found = store.execute(read) if hours else []
    return {
        hour: {_text(f): WindowCounts.from_json(json.loads(b)) for f, b in (blobs or {}).items()}
        for hour, blobs in zip(hours, found, strict=True)
    }


def count_rows(
    version: str, reference: Reference, hour: int, rows: Rows, stored: Partials, writes: StepWrites
) -> None:
    """Add the hour's rows to each partition's field, in that partition's write."""
    for partition in np.unique(rows.partition).tolist():
        block = rows.take(rows.partition == partition)
        add_counts(version, reference, hour, str(partition), block, stored, writes.on(partition))


def add_counts(
    version: str,
    reference: Reference,
    hour: int,
    name: str,
    block: Rows,
    stored: Partials,
    batch: Batch,
) -> None:
    """Add ``block`` to the hour's field ``name`` (a partition, or :data:`KEPT`)."""
    partials = stored.setdefault(hour, {})
    current = partials.get(name) or WindowCounts.empty(reference, hour, hour + HOUR_MS)
    updated = current.added(reference, block.features, block.scores)
    partials[name] = updated
    key, blob = keys.window(version, hour), json.dumps(updated.to_json(), sort_keys=True)
    batch.hset(keys.NS, key, {name: blob.encode()}).pexpire(keys.NS, key, keys.WORK_TTL_MS).zadd(
        keys.NS, keys.open_hours(version), {str(hour): float(hour)}
    )


def partition_marks(found: Iterable[tuple[int, int]], seen: Mapping[int, int]) -> dict[int, int]:
    """Partitions whose latest event time moved in this batch (from ``(partition, event
    time)`` of every decoded record), and to what."""
    moved: dict[int, int] = {}
    for partition, ts in found:
        if ts > max(seen.get(partition, 0), moved.get(partition, 0)):
            moved[partition] = ts
    return moved


def clock_of(
    marks: Mapping[int, int], partitions: int, idle_ms: int, unread: Iterable[int] = ()
) -> int:
    """The least latest event time over the partitions that are not idle: a partition with no
    row for ``idle_ms`` of the latest partition's event time is left out, unless it is
    ``unread`` (it has records the group has not read yet: a backlog, not an idle partition)."""
    every = [marks.get(p, 0) for p in range(partitions)]
    left_out = set(idle_partitions(marks, partitions, idle_ms)) - set(unread)
    return min(mark for p, mark in enumerate(every) if p not in left_out)


def idle_partitions(marks: Mapping[int, int], partitions: int, idle_ms: int) -> list[int]:
    every = [marks.get(p, 0) for p in range(partitions)]
    return [p for p, mark in enumerate(every) if max(every) - mark > idle_ms]


def per_hour_quota(ts: np.ndarray, partition: int, taken: dict[str, int], quota: int) -> np.ndarray:
    """The indices of one partition's reference rows (``ts`` in order) kept under ``quota``
    rows per event-time hour (the first of each hour); ``taken`` ("partition:hour" -> rows
    kept so far) is updated. A cap shared by hours would keep only the first hours."""
    hours = ts - ts % HOUR_MS
    keep = np.zeros(len(ts), dtype=bool)
    for hour in np.unique(hours).tolist():
        name = f"{partition}:{hour}"
        found = np.flatnonzero(hours == hour)
        room = max(quota - taken.get(name, 0), 0)
        keep[found[:room]] = True
        taken[name] = taken.get(name, 0) + min(len(found), room)
    return np.flatnonzero(keep)


def due_end(latest: int, lateness_ms: int) -> int:
    """The end of the last hour whose end is ``lateness_ms`` behind the clock."""
    closed_before = latest - lateness_ms
    return closed_before - closed_before % HOUR_MS


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value
