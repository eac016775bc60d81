"""The feedback store (DB2): every source's label per transaction, and what `feedback stats` reads.

``labels:{transaction_id}`` keeps one field per source (the label as JSON) and ``effective``
(the source that counts, by the precedence in :mod:`labels`). Day counters are keyed by the
label's day (UTC): labels per source and label, the label-delay histogram, and how the effective
labels split. :func:`label_writes` only adds writes to a batch, so a consumer on the stream loop
can apply them in its guarded, exactly-once state write; :meth:`FeedbackStore.ingest` applies
them directly.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from stream_sentinel.learning import keys
from stream_sentinel.learning.labels import LabelChange, SourcedLabel, combine, delay_bucket
from stream_sentinel.state.base import Batch, StateStore

#: How long a transaction's labels are kept (the training window's reach, and then some).
LABEL_TTL_MS = 180 * 86_400_000
EFFECTIVE = "effective"
KnownLabels = dict[str, dict[str, SourcedLabel]]


def day_of(time_ms: int) -> str:
    return dt.datetime.fromtimestamp(time_ms / 1000, dt.UTC).strftime("%Y-%m-%d")


def label_writes(
    batch: Batch, known: KnownLabels, transaction_id: str, label: SourcedLabel
) -> LabelChange:
    """Add the writes ``label`` makes to ``batch``; ``known`` (the stored labels) is updated."""
    stored = known.setdefault(transaction_id, {})
    change = combine(stored, label)
    if not change.changed:
        return change
    stored[label.source] = label
    key = keys.labels(transaction_id)
    batch.hset(
        keys.FEEDBACK, key, {label.source: label.encode(), EFFECTIVE: change.effective.source}
    )
    batch.pexpire(keys.FEEDBACK, key, LABEL_TTL_MS)
    day = day_of(label.label_time)
    counters = keys.label_day(day)
    batch.zadd(keys.FEEDBACK, keys.LABEL_DAYS, {day: label.label_time // 86_400_000})
    batch.hincrby(keys.FEEDBACK, counters, f"{label.source}:{label.label}", 1)
    batch.hincrby(
        keys.FEEDBACK, counters, f"delay:{label.source}:{delay_bucket(label.delay_ms)}", 1
    )
    _count_effective(batch, change)
    for pair in change.conflicts:
        batch.hincrby(keys.FEEDBACK, keys.LABEL_CONFLICTS, pair, 1)
    return change


def _count_effective(batch: Batch, change: LabelChange) -> None:
    """Move the transaction between effective-label counts (never undone by the TTL: a
    transaction labelled again after its labels expired counts again; see EFFECTIVE_LINE)."""
    before = change.previous.label if change.previous else None
    after = change.effective.label
    if before != after:
        batch.hincrby(keys.FEEDBACK, keys.LABEL_EFFECTIVE, after, 1)
        if before is not None:
            batch.hincrby(keys.FEEDBACK, keys.LABEL_EFFECTIVE, before, -1)


class FeedbackStore:
    """Reads and writes the labels of DB2 through the StateStore interface."""

    def __init__(self, store: StateStore) -> None:
        self._store = store

    def known(self, transaction_ids: Iterable[str]) -> KnownLabels:
        """The stored labels of each transaction, by source (one round trip)."""
        ids = list(dict.fromkeys(transaction_ids))
        batch = Batch()
        for transaction_id in ids:
            batch.hgetall(keys.FEEDBACK, keys.labels(transaction_id))
        replies = self._store.execute(batch) if ids else []
        return {t: _decode(fields) for t, fields in zip(ids, replies, strict=True)}

    def labels(self, transaction_id: str) -> dict[str, SourcedLabel]:
        return self.known([transaction_id])[transaction_id]

    def effective(self, transaction_id: str) -> SourcedLabel | None:
        [source] = self._store.execute(
            Batch().hget(keys.FEEDBACK, keys.labels(transaction_id), EFFECTIVE)
        )
        return None if source is None else self.labels(transaction_id)[source.decode()]

    def ingest(self, records: Iterable[Mapping[str, Any]]) -> list[LabelChange]:
        """Keep decoded Feedback records (``fraud-feedback``); one change per record."""
        pending = list(records)
        known = self.known(str(r["transaction_id"]) for r in pending)
        batch = Batch()
        changes = [
            label_writes(batch, known, str(r["transaction_id"]), SourcedLabel.of_record(r))
            for r in pending
        ]
        if len(batch):
            self._store.execute(batch)
        return changes


def _decode(fields: Mapping[str, bytes]) -> dict[str, SourcedLabel]:
    return {s: SourcedLabel.decode(v) for s, v in fields.items() if s != EFFECTIVE}
