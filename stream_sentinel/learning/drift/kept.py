"""What the performance monitors keep in DB4 until a bucket of event time is settled, and the
monitors' own state: the encodings and the reads (no writes: those go into the loops' guarded
batches, by :mod:`.decisions` and :mod:`.labelled`).

A decision is kept as 8 bytes: a 63-bit hash of its transaction id with the alert flag in the
low bit, in blocks of one version's rows (one block per partition and batch, the version's
name first). That is all a label needs of it: which version decided, and whether it alerted
at the version's alerting threshold. A label is kept per transaction id as JSON: the event time
and, per source, the label and its time (the feedback store's precedence picks the one that
counts at settlement).

>>> block = decision_block("m-1", ["tx-1", "tx-2"], [True, False])
>>> decoded = decisions_of([block])
>>> decoded[tx_hash("tx-1")], decoded[tx_hash("tx-2")]
(('m-1', True), ('m-1', False))
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from stream_sentinel.learning.drift import keys
from stream_sentinel.learning.labels import SourcedLabel, effective
from stream_sentinel.logic.drift.outcomes import STREAMS, VersionMonitors
from stream_sentinel.logic.drift.window import HOUR_MS
from stream_sentinel.state.base import Batch, StateStore

SEPARATOR = b"\n"


def tx_hash(transaction_id: str) -> int:
    """63 bits of the transaction id's hash (the 64th holds the alert flag)."""
    digest = hashlib.blake2b(transaction_id.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1


def bucket_ttl_ms(deadline_ms: int) -> int:
    """Kept decisions and labels expire a week after their bucket's deadline, from their last
    write: a bucket written after it settled is never read again, and a labels loop up to a
    week behind the decisions still finds them."""
    return deadline_ms + 7 * 24 * HOUR_MS


def decision_block(version: str, transaction_ids: Sequence[str], flagged: Sequence[bool]) -> bytes:
    codes = np.array(
        [tx_hash(t) << 1 | int(f) for t, f in zip(transaction_ids, flagged, strict=True)],
        dtype="<u8",
    )
    return version.encode() + SEPARATOR + codes.tobytes()


def decisions_of(blocks: Iterable[bytes]) -> dict[int, tuple[str, bool]]:
    """transaction hash -> (version, alerted) over a bucket's blocks."""
    found: dict[int, tuple[str, bool]] = {}
    for block in blocks:
        name, _, packed = bytes(block).partition(SEPARATOR)
        version = name.decode()
        for code in np.frombuffer(packed, dtype="<u8").tolist():
            found[code >> 1] = (version, bool(code & 1))
    return found


def merge_label(stored: str | bytes | None, label: SourcedLabel) -> str:
    """The transaction's kept labels with ``label`` added; within a source the later label
    wins, as in the feedback store (a re-delivered label changes nothing)."""
    held: dict[str, Any] = json.loads(stored) if stored else {"t": label.event_time, "s": {}}
    known = held["s"].get(label.source)
    if known is None or int(known[1]) <= label.label_time:
        held["s"][label.source] = [label.label, label.label_time]
    return json.dumps(held, sort_keys=True, separators=(",", ":"))


def effective_label(stored: str | bytes) -> tuple[int, str]:
    """The transaction's event time and the label that counts (the feedback store's
    precedence over the sources kept)."""
    held = json.loads(stored)
    labels = {
        source: SourcedLabel(source, label, int(held["t"]), int(time))
        for source, (label, time) in held["s"].items()
    }
    return int(held["t"]), effective(labels).label


@dataclass(frozen=True, slots=True)
class PerfProgress:
    """The next bucket to settle (None before the first settlement)."""

    settled: int | None = None

    def encode(self) -> bytes:
        return json.dumps({"settled": self.settled}).encode()

    @classmethod
    def decode(cls, blob: str | bytes | None) -> PerfProgress:
        return cls(None if blob is None else json.loads(blob)["settled"])


def read_buckets(
    store: StateStore, buckets: Sequence[int]
) -> tuple[list[list[bytes]], list[dict[str, bytes]]]:
    """Each bucket's decision blocks and labels (one round trip)."""
    read = Batch()
    for bucket in buckets:
        read.lrange(keys.NS, keys.perf_decisions(bucket), 0, -1)
        read.hgetall(keys.NS, keys.perf_labels(bucket))
    found = store.execute(read) if buckets else []
    blocks = [list(found[2 * i] or []) for i in range(len(buckets))]
    labels = [
        {_text(t): v for t, v in (found[2 * i + 1] or {}).items()} for i in range(len(buckets))
    ]
    return blocks, labels


def stored_labels(
    store: StateStore, wanted: Sequence[tuple[int, str]]
) -> dict[tuple[int, str], bytes | None]:
    """The labels already kept for these (bucket, transaction id)s (one round trip)."""
    read = Batch()
    for bucket, transaction_id in wanted:
        read.hget(keys.NS, keys.perf_labels(bucket), transaction_id)
    replies = store.execute(read) if wanted else []
    return dict(zip(wanted, replies, strict=True))


@dataclass(frozen=True, slots=True)
class StoredMonitors:
    """A version's monitors as DB4 has them: their state, its last retrain request, and per
    monitor what `drift status` shows (:meth:`VersionMonitors.summary`)."""

    state: dict[str, Any]
    last_retrain_ms: int | None = None
    summary: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def of(cls, monitors: VersionMonitors, last_retrain_ms: int | None) -> StoredMonitors:
        summary = {name: monitors.summary(name) for name in monitors.monitors}
        return cls(monitors.to_json(), last_retrain_ms, summary)

    def encode(self) -> bytes:
        data = {"state": self.state, "last_retrain_ms": self.last_retrain_ms}
        return json.dumps({**data, "summary": self.summary}, sort_keys=True).encode()

    @classmethod
    def decode(cls, blob: str | bytes) -> StoredMonitors:
        data = json.loads(blob)
        return cls(data["state"], data.get("last_retrain_ms"), data.get("summary") or {})


def read_monitors(store: StateStore) -> dict[str, StoredMonitors]:
    [found] = store.execute(Batch().hgetall(keys.NS, keys.PERF_MONITORS))
    return {_text(v): StoredMonitors.decode(b) for v, b in sorted((found or {}).items())}


def replay(store: StateStore, version: str, stored: StoredMonitors) -> VersionMonitors:
    """The version's monitors rebuilt from their stored outcome streams."""
    read = Batch()
    for stream in STREAMS:
        read.lrange(keys.NS, keys.perf_outcomes(version, stream), 0, -1)
    found = store.execute(read)
    streams = {s: b"".join(reversed(got or [])) for s, got in zip(STREAMS, found, strict=True)}
    return VersionMonitors.from_json(stored.state, streams)


def monitors_of(
    store: StateStore, cached: Mapping[str, VersionMonitors], version: str
) -> tuple[VersionMonitors, int | None]:
    """The version's monitors (the cached ones when DB4 holds the same state, else replayed)
    and its last retrain request."""
    [blob] = store.execute(Batch().hget(keys.NS, keys.PERF_MONITORS, version))
    if blob is None:
        return VersionMonitors.fresh(), None
    stored = StoredMonitors.decode(blob)
    known = cached.get(version)
    if known is not None and known.to_json() == stored.state:
        return known, stored.last_retrain_ms
    return replay(store, version, stored), stored.last_retrain_ms


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value
