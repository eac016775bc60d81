"""The detector's state I/O: one read and one guarded write per batch.

Reads (one round trip): profiles of batch users not in the partition-local cache, the control
state of every batch user (fresh, never cached), and merchant counters not read recently.
Writes (one round trip, after the batch's outputs are committed to Kafka): per partition, an
atomic guarded batch of the changed profiles, the merchant volume increments, dead-letter
counts and the partition's offset watermark. The guard makes a replayed batch a no-op, so
state is applied at most once; Kafka being committed first means Redis can only ever lag
behind the committed offsets, never run ahead, and a lag is repaired from the input topic.

User state has one writer (the worker owning the partition), so the cache may hold it between
batches; merchant state has many writers and is only changed by increments.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from stream_sentinel.clock import Clock
from stream_sentinel.config import DetectorSettings
from stream_sentinel.detector.dedup import Applied, SeenTransactions
from stream_sentinel.logic import merchants as merchant_state
from stream_sentinel.logic.features import MerchantStats
from stream_sentinel.logic.profile import DAY_MS, PROFILE_SIZE, decode_profiles
from stream_sentinel.logic.rules import ControlFlags
from stream_sentinel.state import keys
from stream_sentinel.state.base import Batch, StateStore

TTL_REFRESH_MS = 3_600_000
MERCHANT_CACHE_SIZE = 200_000


@dataclass
class BatchState:
    """What a batch needs to be scored: one profile per batch user, control per user."""

    profiles: np.ndarray
    blocked: np.ndarray  # per batch user
    step_up: np.ndarray
    watched: np.ndarray
    merchant_stats: MerchantStats

    def control_for(self, user_ix: np.ndarray) -> ControlFlags:
        return ControlFlags(self.blocked[user_ix], self.step_up[user_ix], self.watched[user_ix])


@dataclass
class PartitionDelta:
    """Everything one batch changed for one partition."""

    profiles: dict[str, bytes] = field(default_factory=dict)
    merchant_volume: dict[tuple[str, int], int] = field(default_factory=lambda: defaultdict(int))
    dead_letters: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    seen: Applied = field(default_factory=list)  # (id hash, offset) of the transactions applied


class DetectorState:
    """State access for one detector worker: reads, write batches, the profile cache."""

    def __init__(
        self,
        store: StateStore,
        settings: DetectorSettings,
        clock: Clock,
        merchant_refresh_s: float = 5.0,
        topic: str = "transactions",
    ) -> None:
        self.store = store
        self.seen = SeenTransactions(store, settings.group_id, topic, settings.dedup_window)
        self.settings = settings
        self.clock = clock
        self.merchant_refresh_s = merchant_refresh_s
        self._profiles: dict[str, bytes] = {}  # user -> profile blob (clean: equal to Redis)
        self._owner: dict[str, int] = {}  # user -> partition
        self._merchants: dict[str, merchant_state.CachedMerchant] = {}
        self._ttl_ms = settings.profile_ttl_days * DAY_MS
        self._ttl_refreshed: dict[str, int] = {}  # merchant -> when (clock ms) we last tidied it

    # -- reading ------------------------------------------------------------------------------
    def read(self, users: Sequence[str], merchants: Sequence[str], event_day: int) -> BatchState:
        """Profiles, control state and merchant stats for a batch, in one round trip."""
        missing = [u for u in users if u not in self._profiles]
        stale = self._stale_merchants(merchants)
        batch = Batch()
        if missing:
            batch.mget(keys.PROFILES, [keys.user_profile(u) for u in missing])
        for name in keys.CONTROL_SETS:
            batch.zmscore(keys.PIPELINE, name, users)
        for merchant in stale:
            batch.hgetall(keys.PIPELINE, keys.merchant(merchant))
        replies = self.store.execute(batch) if users else []
        first = 1 if missing else 0
        fetched = dict(zip(missing, replies[0] if missing else [], strict=True))
        now = self.clock.now_ms()
        blocked, step_up, watched = (
            _active(replies[first + i], now) for i in range(len(keys.CONTROL_SETS))
        )
        read_at = time.monotonic()
        start = first + len(keys.CONTROL_SETS)
        for merchant, fields in zip(stale, replies[start:], strict=True):
            counters = merchant_state.parse_counters(fields)
            self._merchants[merchant] = merchant_state.CachedMerchant(counters, read_at)
        profiles = decode_profiles([self._profiles.get(u) or fetched.get(u) for u in users])
        cached = [self._merchants[m] for m in merchants]
        stats = merchant_state.stats_for_cached(cached, event_day)
        return BatchState(profiles, blocked, step_up, watched, stats)

    def _stale_merchants(self, merchants: Sequence[str]) -> list[str]:
        horizon = time.monotonic() - self.merchant_refresh_s
        cache = self._merchants
        return [m for m in merchants if m not in cache or cache[m].read_at < horizon]

    # -- writing ------------------------------------------------------------------------------
    def state_batch(self, partition: int, delta: PartitionDelta) -> Batch:
        """The state writes of one partition's delta (the loop guards them with a watermark)."""
        batch = Batch()
        self.seen.write(batch, partition, delta.seen)
        if delta.profiles:
            names = [keys.user_profile(user) for user in delta.profiles]
            blob = b"".join(delta.profiles.values())
            batch.set_many(keys.PROFILES, names, blob, PROFILE_SIZE, self._ttl_ms)
        newest: dict[str, int] = {}
        for (merchant, day), count in delta.merchant_volume.items():
            key = keys.merchant(merchant)
            batch.hincrby(
                keys.PIPELINE, key, merchant_state.field(merchant_state.VOLUME, day), count
            )
            newest[merchant] = max(newest.get(merchant, day), day)
        now = self.clock.now_ms()  # the store's clock: event time in a backtest
        for merchant in sorted(newest):
            # Housekeeping now and then, not every batch: a 35-day TTL cannot run out in an
            # hour, and day counters older than the 30-day windows can wait that long to go.
            if now - self._ttl_refreshed.get(merchant, -TTL_REFRESH_MS) >= TTL_REFRESH_MS:
                key = keys.merchant(merchant)
                batch.pexpire(keys.PIPELINE, key, self._ttl_ms)
                stale = self._stale_fields(merchant, newest[merchant])
                if stale:
                    batch.hdel(keys.PIPELINE, key, *stale)
                self._ttl_refreshed[merchant] = now
        for reason, count in delta.dead_letters.items():
            batch.hincrby(keys.PIPELINE, keys.DEAD_LETTER_COUNTS, reason, count)
        return batch

    def _stale_fields(self, merchant: str, today: int) -> list[str]:
        """Day counters of a cached merchant that fell out of every window."""
        cached = self._merchants.get(merchant)
        if cached is None:
            return []
        stale = []
        for kind, days in cached.counters.items():
            for day in [d for d in days if d <= today - merchant_state.RETENTION_DAYS]:
                stale.append(merchant_state.field(kind, day))
                del days[day]
        return stale

    def remember(self, deltas: Mapping[int, PartitionDelta]) -> None:
        """Once their batch is committed (its write durable or in flight, never failed
        unnoticed): keep the deltas' profiles and merchant counts in the cache."""
        kept = 0
        for partition, delta in deltas.items():
            self._remember(partition, delta)
            kept += len(delta.profiles)
        for cache in (self._merchants, self._ttl_refreshed):
            if len(cache) > MERCHANT_CACHE_SIZE:  # drop the oldest half (insertion order)
                for merchant in list(cache)[: len(cache) // 2]:
                    del cache[merchant]
        # Never this batch's own users (the newest entries): with its write still in flight,
        # the next batch must read them from here, not from Redis.
        excess = min(
            len(self._profiles) - self.settings.user_cache_size, len(self._profiles) - kept
        )
        if excess > 0:
            for user in list(self._profiles)[:excess]:
                del self._profiles[user]
                self._owner.pop(user, None)

    def _remember(self, partition: int, delta: PartitionDelta) -> None:
        self.seen.remember(partition, delta.seen)
        for user, blob in delta.profiles.items():
            self._profiles.pop(user, None)  # re-insert at the end: dict order approximates LRU
            self._profiles[user] = blob
            self._owner[user] = partition
        for (merchant, day), count in delta.merchant_volume.items():
            if merchant in self._merchants:
                self._merchants[merchant].add_volume(day, count)

    # -- ownership ----------------------------------------------------------------------------
    def forget_partitions(self, partitions: Sequence[int]) -> None:
        """Drop cached profiles of partitions this worker no longer owns."""
        gone = set(partitions)
        self.seen.forget(partitions)
        for user in [u for u, p in self._owner.items() if p in gone]:
            self._profiles.pop(user, None)
            del self._owner[user]

    def forget_users(self, users: Sequence[str]) -> None:
        for user in users:
            self._profiles.pop(user, None)
            self._owner.pop(user, None)

    def forget_all_merchants(self) -> None:
        """Re-read every merchant's counters on next use (after a repair re-applied some)."""
        self._merchants.clear()

    def forget_merchants(self, merchants: Sequence[str]) -> None:
        """Re-read these merchants' counters on next use (e.g. labels just changed them)."""
        for merchant in merchants:
            self._merchants.pop(merchant, None)

    @property
    def cached_users(self) -> int:
        return len(self._profiles)


def _active(expiries: Sequence[float | None], now_ms: int) -> np.ndarray:
    """True where a control flag exists and has not expired (expiry is checked on read)."""
    return np.array([e is not None and e > now_ms for e in expiries], dtype=bool)
