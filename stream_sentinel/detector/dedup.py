"""Re-sent payments: the recent transaction ids of each partition, to decide a retry only once.

An upstream system that sends the same payment twice (same ``transaction_id``, a retry) must not
get two decisions nor move the user's counters twice. A record at offset ``o`` of a partition is
a *duplicate* when the same id was applied at an offset in ``[o - window, o)`` of that partition.
That is a function of the partition's offsets alone, never of how records were cut into batches,
so a repair that re-reads the input in other batches decides every record as the live run did.

Each partition's applied ids live in Redis beside its other state, written in the same guarded
batch as its watermark: a list of chunks, one per batch, each the batch's (64-bit BLAKE2b hash,
offset) pairs packed as 16 bytes, trimmed to the chunks that can still matter. The worker that
owns the partition caches them (about 170 bytes per id). Users are keyed to partitions, so a
retry of a user's payment arrives on the same partition as the original.
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from stream_sentinel.state import keys
from stream_sentinel.state.base import Batch, StateStore

_PAIR = np.dtype([("hash", ">u8"), ("offset", ">i8")])
Applied = list[tuple[int, int]]  # (id hash, offset) of the transactions a batch applied


def id_hash(transaction_id: str) -> int:
    """A 64-bit hash that is the same in every process (collisions: ~1 in 10^9 per window)."""
    return int.from_bytes(hashlib.blake2b(transaction_id.encode(), digest_size=8).digest(), "big")


def _pack(pairs: Applied) -> bytes:
    return np.array(pairs, dtype=_PAIR).tobytes()


def _unpack(chunk: bytes) -> Applied:
    pairs = np.frombuffer(chunk, dtype=_PAIR)
    return list(zip(pairs["hash"].tolist(), pairs["offset"].tolist(), strict=True))


@dataclass
class _Window:
    """One partition's applied ids: chunks oldest first (as Redis holds them), the newest
    offset of each id."""

    chunks: deque[Applied] = field(default_factory=deque)
    applied_at: dict[int, int] = field(default_factory=dict)

    @property
    def newest(self) -> int:
        return self.chunks[-1][-1][1] if self.chunks else -1

    def add(self, chunk: Applied, window: int) -> None:
        self.chunks.append(chunk)
        for value, offset in chunk:
            self.applied_at[value] = offset
        horizon = self.newest - window
        while self.chunks and self.chunks[0][-1][1] < horizon:
            for value, offset in self.chunks.popleft():
                if self.applied_at.get(value) == offset:
                    del self.applied_at[value]

    def kept_after(self, newest: int, window: int) -> int:
        """How many chunks the list keeps once a chunk ending at ``newest`` is pushed."""
        horizon = newest - window
        return 1 + sum(1 for chunk in self.chunks if chunk[-1][1] >= horizon)


class SeenTransactions:
    """The duplicate check of one detector worker, over the partitions it owns."""

    def __init__(self, store: StateStore, group_id: str, topic: str, window: int) -> None:
        self.store = store
        self.group_id, self.topic = group_id, topic
        self.window = window
        self._windows: dict[int, _Window] = {}
        # chunks committed while their partition was not cached (their write may be in flight,
        # so a load from Redis might miss them): folded in when the partition is loaded
        self._unloaded: dict[int, list[Applied]] = {}

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
            for chunk in self._unloaded.pop(partition, []):
                if chunk[-1][1] > window.newest:  # not in Redis yet
                    window.add(chunk, self.window)
            self._windows[partition] = window

    def duplicates(
        self, partitions: Sequence[int], offsets: Sequence[int], hashes: Sequence[int],
        applies: Sequence[bool],
    ) -> list[int]:  # fmt: skip
        """Rows that repeat an id applied within ``window`` offsets before them (in an earlier
        batch or this one). Rows whose state is already applied (a replay) are never
        duplicates: they are their own originals."""
        if not self.enabled:
            return []
        self.load(partitions)
        in_batch: dict[tuple[int, int], int] = {}
        out = []
        rows = zip(partitions, offsets, hashes, applies, strict=True)
        for row, (partition, offset, value, apply) in enumerate(rows):
            if not apply:
                continue
            before = in_batch.get((partition, value))
            if before is None:
                before = self._windows[partition].applied_at.get(value)
            if before is not None and before < offset and offset - before <= self.window:
                out.append(row)
            else:
                in_batch[(partition, value)] = offset
        return out

    def write(self, batch: Batch, partition: int, applied: Applied) -> None:
        """Add a batch's newly applied ids to the partition's guarded write."""
        if not applied or not self.enabled:
            return
        batch.lpush(keys.PIPELINE, self.key(partition), _pack(applied))
        window = self._windows.get(partition)
        if window is not None:  # (never trim blind: an unknown list is trimmed next time)
            kept = window.kept_after(applied[-1][1], self.window)
            batch.ltrim(keys.PIPELINE, self.key(partition), 0, kept - 1)

    def remember(self, partition: int, applied: Applied) -> None:
        """The batch is committed: its ids join the cached window."""
        if not applied or not self.enabled:
            return
        if partition in self._windows:
            self._windows[partition].add(applied, self.window)
        else:
            self._unloaded.setdefault(partition, []).append(applied)

    def forget(self, partitions: Sequence[int]) -> None:
        for partition in partitions:
            self._windows.pop(partition, None)
            self._unloaded.pop(partition, None)

    @property
    def cached_ids(self) -> int:
        return sum(len(w.applied_at) for w in self._windows.values())
