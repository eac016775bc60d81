"""Where the learner keeps its training set and its own status: the feedback store's DB2.

Layout (all keys under ``learn:``; no TTL, eviction is by event time, see :meth:`evict`):

| key | type | contents |
|---|---|---|
| ``learn:rows:{hour}`` | hash | transaction id -> its logged row (:class:`LoggedRow` packed) |
| ``learn:labels:{hour}`` | hash | ``{transaction}|{source}|{label_time}`` -> the label (JSON) |
| ``learn:hours`` | sorted set | event hour -> event hour (the buckets held) |
| ``learn:clock`` | hash | decision-features partition -> latest event time read |
| ``learn:status`` | hash | schedule anchor, last retrain, requests acted on, last decision |
| ``learn:decisions`` | list | every retrain decision (JSON), newest first, capped |
| ``learn:online:scores:{hour}`` | hash | online model's scores before learning (:mod:`.online`) |

A transaction's row and labels share the bucket of its event hour (a Feedback record carries
the transaction's event time), so the join needs no index and dropping an old hour is two
deletes. Writes are added to the stream loop's guarded per-partition batches and are
idempotent besides: a row or a label written twice is the same field with the same value.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from stream_sentinel.learning.labels import SourcedLabel
from stream_sentinel.learning.learner.rows import HOUR_MS, LoggedRow, hour_of
from stream_sentinel.state.base import Batch, Namespace, StateStore

NS = Namespace.FEEDBACK
HOURS = "learn:hours"
CLOCK = "learn:clock"
STATUS = "learn:status"
DECISIONS = "learn:decisions"
#: Retrain decisions kept in ``learn:decisions`` (newest first).
KEEP_DECISIONS = 100


def rows_key(hour: int) -> str:
    return f"learn:rows:{hour}"


def labels_key(hour: int) -> str:
    return f"learn:labels:{hour}"


def row_writes(batch: Batch, row: LoggedRow) -> None:
    hour = hour_of(row.event_time)
    batch.hset(NS, rows_key(hour), {row.transaction_id: row.pack()})
    batch.zadd(NS, HOURS, {str(hour): hour})


def label_writes(batch: Batch, transaction_id: str, label: SourcedLabel) -> None:
    hour = hour_of(label.event_time)
    field = f"{transaction_id}|{label.source}|{label.label_time}"
    batch.hset(NS, labels_key(hour), {field: label.encode()})
    batch.zadd(NS, HOURS, {str(hour): hour})


def online_scores_key(hour: int) -> str:
    """The online model's prequential scores of an hour's rows (:mod:`.online`)."""
    return f"learn:online:scores:{hour}"


def clock_write(batch: Batch, partition: int, event_time: int) -> None:
    batch.hset(NS, CLOCK, {str(partition): event_time})


Rows = dict[str, LoggedRow]
Labels = dict[str, list[SourcedLabel]]


class TrainingSetStore:
    """Reads the training set and the learner's status (one round trip each)."""

    def __init__(self, store: StateStore) -> None:
        self._store = store

    @property
    def state(self) -> StateStore:
        """The state store it reads (the online model's store shares it)."""
        return self._store

    def clock(self) -> int | None:
        """The learner's event time: the latest event time read on any partition."""
        return max(self.partition_clock().values(), default=None)

    def partition_clock(self) -> dict[int, int]:
        """Each ``decision-features`` partition's latest event time read."""
        [found] = self._store.execute(Batch().hgetall(NS, CLOCK))
        return {int(p): int(v) for p, v in found.items()}

    def snapshot(self, start_ms: int, end_ms: int) -> tuple[Rows, Labels]:
        """The rows and labels of transactions with ``start_ms <= event time < end_ms``
        (whole hours: the join draws the exact lines)."""
        [found] = self._store.execute(
            Batch().zrangebyscore(NS, HOURS, hour_of(start_ms), hour_of(max(end_ms - 1, 0)))
        )
        hours = [int(score) for _, score in found]
        batch = Batch()
        for hour in hours:
            batch.hgetall(NS, rows_key(hour)).hgetall(NS, labels_key(hour))
        replies = self._store.execute(batch) if hours else []
        rows: Rows = {}
        labels: Labels = defaultdict(list)
        for packed, labelled in zip(replies[::2], replies[1::2], strict=True):
            rows.update({t: LoggedRow.unpack(t, blob) for t, blob in packed.items()})
            for field, blob in labelled.items():
                labels[field.rsplit("|", 2)[0]].append(SourcedLabel.decode(blob))
        return rows, dict(labels)

    def hours(self) -> list[int]:
        """The event hours held, oldest first."""
        [found] = self._store.execute(Batch().zrangebyscore(NS, HOURS, float("-inf"), float("inf")))
        return [int(score) for _, score in found]

    def evict(self, before_ms: int) -> int:
        """Drop the hours wholly before ``before_ms``; returns how many were dropped."""
        last = before_ms // HOUR_MS - 1
        [found] = self._store.execute(Batch().zrangebyscore(NS, HOURS, float("-inf"), last))
        if not found:
            return 0
        hours = [int(score) for _, score in found]
        batch = Batch()
        for hour in hours:
            batch.delete(NS, rows_key(hour)).delete(NS, labels_key(hour))
            batch.delete(NS, online_scores_key(hour))
        batch.zremrangebyscore(NS, HOURS, float("-inf"), last)
        self._store.execute(batch)
        return len(hours)

    def drop_rows(self, rows: list[LoggedRow]) -> int:
        """Remove these rows (compaction: never-labelled rows outside the sample)."""
        by_hour: dict[int, list[str]] = defaultdict(list)
        for row in rows:
            by_hour[hour_of(row.event_time)].append(row.transaction_id)
        batch = Batch()
        for hour, transactions in sorted(by_hour.items()):
            batch.hdel(NS, rows_key(hour), *transactions)
        if len(batch):
            self._store.execute(batch)
        return len(rows)

    def status(self) -> dict[str, Any]:
        [found] = self._store.execute(Batch().hgetall(NS, STATUS))
        return {field: json.loads(value) for field, value in found.items()}

    def set_status(self, **values: Any) -> None:
        self._store.execute(self._status_writes(Batch(), values))

    def record_decision(self, decision: dict[str, Any], **values: Any) -> None:
        """The status and a decision appended to the capped history, in one write."""
        self.record_decisions([decision], **values)

    def record_decisions(self, decisions: list[dict[str, Any]], **values: Any) -> None:
        """The status and the decisions (in order) appended to the history, in one write."""
        batch = self._status_writes(Batch(), values)
        for decision in decisions:
            batch.lpush(NS, DECISIONS, json.dumps(decision, sort_keys=True).encode())
        self._store.execute(batch.ltrim(NS, DECISIONS, 0, KEEP_DECISIONS - 1))

    def decisions(self) -> list[dict[str, Any]]:
        """The retrain decisions kept, newest first."""
        [found] = self._store.execute(Batch().lrange(NS, DECISIONS, 0, -1))
        return [json.loads(blob) for blob in found]

    @staticmethod
    def _status_writes(batch: Batch, values: dict[str, Any]) -> Batch:
        encoded = {field: json.dumps(value, sort_keys=True) for field, value in values.items()}
        return batch.hset(NS, STATUS, encoded)
