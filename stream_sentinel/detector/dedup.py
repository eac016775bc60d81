"""Re-sent payments: the recent transaction ids of each partition, to decide a retry only once.

An upstream system that sends the same payment twice (same ``transaction_id``, a retry) must not
get two decisions nor move the user's counters twice. Each input partition keeps the hashes of
at least its last ``window`` transaction ids, in Redis beside the partition's other state and
written in the same guarded batch as its watermark, so the window is exactly-once with the state
it protects: a replayed batch neither re-adds its ids nor finds itself a duplicate.

The window is a Redis list of chunks, one per batch (the batch's 8-byte BLAKE2b hashes, packed),
trimmed so it holds the newest chunks covering ``window`` ids: about 8 bytes per id in Redis,
and a Python set of the same ids in the worker's cache (about 60 bytes per id). Users are keyed
to partitions, so a retry of a user's payment arrives on the same partition as the original.
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from stream_sentinel.state import keys
from stream_sentinel.state.base import Batch, StateStore


def id_hash(transaction_id: str) -> int:
    """A 64-bit hash that is the same in every process (collisions: ~1 in 10^9 per window)."""
    return int.from_bytes(hashlib.blake2b(transaction_id.encode(), digest_size=8).digest(), "big")


def _pack(hashes: Sequence[int]) -> bytes:
    return np.array(hashes, dtype=">u8").tobytes()


def _unpack(chunk: bytes) -> list[int]:
    return np.frombuffer(chunk, dtype=">u8").tolist()


@dataclass
class _Window:
    """One partition's recent ids: chunks oldest first, and all of them as a set."""

    chunks: deque[list[int]] = field(default_factory=deque)
    ids: set[int] = field(default_factory=set)
    size: int = 0

    def add(self, chunk: list[int], window: int) -> None:
        self.chunks.append(chunk)
        self.ids.update(chunk)
        self.size += len(chunk)
        while self.chunks and self.size - len(self.chunks[0]) >= window:
            oldest = self.chunks.popleft()
            self.ids.difference_update(oldest)
            self.size -= len(oldest)

    def kept_after(self, chunk: int, window: int) -> int:
        """How many chunks the list keeps once a chunk of ``chunk`` ids is pushed."""
        kept, size = 1, chunk
        for older in reversed(self.chunks):
            if size >= window:
                break
            kept, size = kept + 1, size + len(older)
        return kept


class SeenTransactions:
    """The duplicate check of one detector worker, over the partitions it owns."""

    def __init__(self, store: StateStore, group_id: str, topic: str, window: int) -> None:
        self.store = store
        self.group_id, self.topic = group_id, topic
        self.window = window
        self._windows: dict[int, _Window] = {}

    @property
    def enabled(self) -> bool:
        return self.window > 0

    def key(self, partition: int) -> str:
        return keys.seen_transactions(self.group_id, self.topic, partition)

    def load(self, partitions: Sequence[int]) -> None:
        """Read the windows of partitions not cached (one round trip; none when all are)."""
        missing = sorted({p for p in partitions if p not in self._windows})
        if not missing or not self.enabled:
            return
        batch = Batch()
        for partition in missing:
            batch.lrange(keys.PIPELINE, self.key(partition), 0, -1)
        for partition, chunks in zip(missing, self.store.execute(batch), strict=True):
            window = _Window()
            for chunk in reversed(chunks):  # LPUSH keeps the newest first
                window.add(_unpack(chunk), self.window)
            self._windows[partition] = window

    def duplicates(
        self, partitions: Sequence[int], hashes: Sequence[int], applies: Sequence[bool]
    ) -> list[int]:
        """Rows that repeat an id already decided (before, or earlier in this batch). Rows whose
        state is already applied (a replay) are never duplicates: they are their own originals."""
        if not self.enabled:
            return []
        self.load(partitions)
        seen_now: set[tuple[int, int]] = set()
        out = []
        for row, (partition, value, apply) in enumerate(
            zip(partitions, hashes, applies, strict=True)
        ):
            if not apply:
                continue
            if value in self._windows[partition].ids or (partition, value) in seen_now:
                out.append(row)
            else:
                seen_now.add((partition, value))
        return out

    def write(self, batch: Batch, partition: int, hashes: list[int]) -> None:
        """Add a batch's new ids to the partition's guarded write."""
        if not hashes or not self.enabled:
            return
        kept = self._windows[partition].kept_after(len(hashes), self.window)
        batch.lpush(keys.PIPELINE, self.key(partition), _pack(hashes))
        batch.ltrim(keys.PIPELINE, self.key(partition), 0, kept - 1)

    def remember(self, partition: int, hashes: list[int]) -> None:
        """The batch is committed: its ids join the cached window."""
        if hashes and partition in self._windows:
            self._windows[partition].add(hashes, self.window)

    def forget(self, partitions: Sequence[int]) -> None:
        for partition in partitions:
            self._windows.pop(partition, None)

    @property
    def cached_ids(self) -> int:
        return sum(w.size for w in self._windows.values())
