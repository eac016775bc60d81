"""The embedded state store: Redis semantics for the commands we use, in process.

Checked against the Redis backend by the same contract suite. Keys with a TTL expire lazily
(checked on access with the injected clock); there is no eviction, since embedded runs are small.
"""

from __future__ import annotations

import fnmatch
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from stream_sentinel.clock import SYSTEM_CLOCK, Clock
from stream_sentinel.errors import StateError
from stream_sentinel.state.base import (
    READ_OPS,
    WRITE_OPS,
    Batch,
    Command,
    Guard,
    Namespace,
    Outcome,
    StoreInfo,
    check_guarded,
)
from stream_sentinel.state.stats import DatabaseStats, Slowlog, StoreStats

_Value = bytes | dict[str, Any] | list[bytes] | set[str]


def to_bytes(value: bytes | str | int | float) -> bytes:
    """How redis-py encodes a value on the wire."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, float):
        return repr(value).encode()
    return str(value).encode()


class _Zset(dict[str, float]):
    """A sorted set: member -> score (a distinct type, so WRONGTYPE checks work)."""


class _Db:
    def __init__(self, clock: Clock) -> None:
        self.data: dict[str, _Value] = {}
        self.expires: dict[str, int] = {}
        self.expired = 0  # keys dropped because their TTL passed
        self._clock = clock

    def alive(self, key: str) -> bool:
        deadline = self.expires.get(key)
        if deadline is not None and deadline <= self._clock.now_ms():
            if self.data.pop(key, None) is not None:
                self.expired += 1
            self.expires.pop(key, None)
        return key in self.data

    def read(self, key: str, kind: type) -> Any:
        if not self.alive(key):
            return None
        value = self.data[key]
        if type(value) is not kind:
            raise StateError(f"WRONGTYPE: key {key!r} holds a {type(value).__name__}")
        return value

    def write(self, key: str, kind: type) -> Any:
        value = self.read(key, kind)
        if value is None:
            value = self.data[key] = kind()
        return value

    def drop_if_empty(self, key: str) -> None:
        if key in self.data and not self.data[key]:
            del self.data[key]
            self.expires.pop(key, None)


class MemoryStateStore:
    """In-process :class:`~stream_sentinel.state.base.StateStore`."""

    name = "memory"

    def __init__(self, clock: Clock = SYSTEM_CLOCK) -> None:
        self._clock = clock
        self._lock = threading.RLock()
        self._dbs = {ns: _Db(clock) for ns in Namespace}
        self._expired_before_clear = 0

    def execute(self, batch: Batch) -> list[Any]:
        with self._lock:
            return [self._run(command) for command in batch.commands]

    def apply_guarded(self, guard: Guard, batch: Batch) -> Outcome:
        check_guarded(batch)
        with self._lock:
            db = self._dbs[guard.ns]
            stored = (db.read(guard.key, dict) or {}).get(guard.field)
            current = None if stored is None else int(stored)
            if current is not None and current >= guard.value:
                return Outcome.REPLAYED
            if guard.expect != "any" and current != guard.expect:
                return Outcome.DIVERGED
            for command in batch.commands:
                self._run(command)
            db.write(guard.key, dict)[guard.field] = to_bytes(guard.value)
            return Outcome.APPLIED

    def apply_guarded_many(self, items: Sequence[tuple[Guard, Batch]]) -> list[Outcome]:
        return [self.apply_guarded(guard, batch) for guard, batch in items]

    def ping(self) -> bool:
        return True

    def info(self) -> StoreInfo:
        return StoreInfo("memory", 0, 0, "noeviction", False, "embedded")

    def stats(self) -> StoreStats:
        """What an in-process store knows: its keys and expiries. It serves no clients, keeps no
        command rates or hit counts, and never evicts."""
        with self._lock:
            now = self._clock.now_ms()
            databases = []
            for ns, db in self._dbs.items():
                live = [k for k in list(db.data) if db.alive(k)]
                ttls = [db.expires[k] - now for k in live if k in db.expires]
                databases.append(
                    DatabaseStats(ns, len(live), len(ttls), sum(ttls) // len(ttls) if ttls else 0)
                )
            expired = self._expired_before_clear + sum(db.expired for db in self._dbs.values())
        return StoreStats(
            backend="memory",
            ops_per_sec=None,
            keyspace_hits=None,
            keyspace_misses=None,
            evicted_keys=0,
            expired_keys=expired,
            connected_clients=None,
            key_namespace="",
            databases=tuple(databases),
        )

    def slowlog(self, limit: int) -> Slowlog:
        """The embedded store keeps no slowlog."""
        return Slowlog(available=False)

    def scan(self, ns: Namespace, pattern: str = "*", count: int = 1000) -> Iterator[str]:
        with self._lock:
            db = self._dbs[ns]
            keys = [k for k in list(db.data) if db.alive(k) and fnmatch.fnmatchcase(k, pattern)]
        return iter(sorted(keys))

    def key_count(self, ns: Namespace) -> int:
        with self._lock:
            db = self._dbs[ns]
            return sum(1 for k in list(db.data) if db.alive(k))

    def clear(self) -> int:
        with self._lock:
            removed = sum(len(db.data) for db in self._dbs.values())
            self._expired_before_clear += sum(db.expired for db in self._dbs.values())
            self._dbs = {ns: _Db(self._clock) for ns in Namespace}
            return removed

    def close(self) -> None:
        return None

    def _run(self, command: Command) -> Any:
        handler = _HANDLERS.get(command.op)
        if handler is None:
            raise StateError(f"unsupported state command {command.op!r}")
        return handler(self, self._dbs[command.ns], command.key, *command.args)

    # -- strings ----------------------------------------------------------------------------------
    def _get(self, db: _Db, key: str) -> bytes | None:
        value: bytes | None = db.read(key, bytes)
        return value

    def _set(self, db: _Db, key: str, value: bytes, ttl_ms: int | None) -> None:
        db.alive(key)
        db.data[key] = to_bytes(value)
        db.expires.pop(key, None)
        if ttl_ms is not None:
            db.expires[key] = self._clock.now_ms() + ttl_ms

    def _mget(self, db: _Db, key: str, keys: tuple[str, ...]) -> list[bytes | None]:
        return [self._get(db, k) for k in keys]

    def _set_many(
        self, db: _Db, key: str, keys: tuple[str, ...], blob: bytes, size: int, ttl_ms: int
    ) -> None:
        for i, name in enumerate(keys):
            self._set(db, name, blob[i * size : (i + 1) * size], ttl_ms)

    def _delete(self, db: _Db, key: str) -> int:
        existed = db.alive(key)
        db.data.pop(key, None)
        db.expires.pop(key, None)
        return int(existed)

    def _incrby(self, db: _Db, key: str, amount: int) -> int:
        current = db.read(key, bytes)
        value = int(current or b"0") + amount
        db.data[key] = to_bytes(value)
        return value

    def _pexpire(self, db: _Db, key: str, ttl_ms: int) -> bool:
        if not db.alive(key):
            return False
        db.expires[key] = self._clock.now_ms() + ttl_ms
        return True

    def _pttl(self, db: _Db, key: str) -> int:
        if not db.alive(key):
            return -2
        deadline = db.expires.get(key)
        return -1 if deadline is None else deadline - self._clock.now_ms()

    def _exists(self, db: _Db, key: str) -> bool:
        return db.alive(key)

    def _memory_usage(self, db: _Db, key: str) -> None:
        return None  # Python objects have no server-side size to report

    # -- hashes -----------------------------------------------------------------------------------
    def _hgetall(self, db: _Db, key: str) -> dict[str, bytes]:
        return dict(db.read(key, dict) or {})

    def _hget(self, db: _Db, key: str, field: str) -> bytes | None:
        value: bytes | None = (db.read(key, dict) or {}).get(field)
        return value

    def _hset(self, db: _Db, key: str, items: tuple[tuple[str, Any], ...]) -> int:
        target = db.write(key, dict)
        added = sum(1 for field, _ in items if field not in target)
        for field, value in items:
            target[field] = to_bytes(value)
        return added

    def _hdel(self, db: _Db, key: str, *fields: str) -> int:
        target = db.read(key, dict) or {}
        removed = sum(1 for field in fields if target.pop(field, None) is not None)
        db.drop_if_empty(key)
        return removed

    def _hincrby(self, db: _Db, key: str, field: str, amount: int) -> int:
        target = db.write(key, dict)
        value = int(target.get(field, b"0")) + amount
        target[field] = to_bytes(value)
        return value

    def _hincrbyfloat(self, db: _Db, key: str, field: str, amount: float) -> float:
        target = db.write(key, dict)
        value = float(target.get(field, b"0")) + amount
        target[field] = to_bytes(value)
        return value

    # -- sorted sets ------------------------------------------------------------------------------
    def _zadd(self, db: _Db, key: str, items: tuple[tuple[str, float], ...]) -> int:
        target = db.write(key, _Zset)
        added = sum(1 for member, _ in items if member not in target)
        target.update((member, float(score)) for member, score in items)
        return added

    def _zrem(self, db: _Db, key: str, *members: str) -> int:
        target = db.read(key, _Zset) or {}
        removed = sum(1 for m in members if target.pop(m, None) is not None)
        db.drop_if_empty(key)
        return removed

    def _zscore(self, db: _Db, key: str, member: str) -> float | None:
        score: float | None = (db.read(key, _Zset) or {}).get(member)
        return score

    def _zmscore(self, db: _Db, key: str, members: tuple[str, ...]) -> list[float | None]:
        target = db.read(key, _Zset) or {}
        return [target.get(m) for m in members]

    def _zrangebyscore(
        self, db: _Db, key: str, low: float, high: float, limit: int | None
    ) -> list[tuple[str, float]]:
        target = db.read(key, _Zset) or {}
        hits = sorted((s, m) for m, s in target.items() if low <= s <= high)
        pairs = [(m, s) for s, m in hits]
        return pairs if limit is None else pairs[:limit]

    def _zremrangebyscore(self, db: _Db, key: str, low: float, high: float) -> int:
        target = db.read(key, _Zset) or {}
        doomed = [m for m, s in target.items() if low <= s <= high]
        for member in doomed:
            del target[member]
        db.drop_if_empty(key)
        return len(doomed)

    def _zcard(self, db: _Db, key: str) -> int:
        return len(db.read(key, _Zset) or {})

    # -- lists ------------------------------------------------------------------------------------
    def _lpush(self, db: _Db, key: str, *values: bytes) -> int:
        target = db.write(key, list)
        for value in values:
            target.insert(0, to_bytes(value))
        return len(target)

    def _ltrim(self, db: _Db, key: str, start: int, stop: int) -> None:
        target = db.read(key, list)
        if target is None:
            return
        target[:] = target[_slice(start, stop, len(target))]
        db.drop_if_empty(key)

    def _lrange(self, db: _Db, key: str, start: int, stop: int) -> list[bytes]:
        target = db.read(key, list) or []
        return list(target[_slice(start, stop, len(target))])

    def _llen(self, db: _Db, key: str) -> int:
        return len(db.read(key, list) or [])

    # -- sets -------------------------------------------------------------------------------------
    def _sadd(self, db: _Db, key: str, *members: str) -> int:
        target = db.write(key, set)
        added = sum(1 for m in set(members) if m not in target)
        target.update(members)
        return added

    def _srem(self, db: _Db, key: str, *members: str) -> int:
        target = db.read(key, set) or set()
        removed = sum(1 for m in set(members) if m in target)
        target.difference_update(members)
        db.drop_if_empty(key)
        return removed

    def _smembers(self, db: _Db, key: str) -> set[str]:
        return set(db.read(key, set) or set())

    def _sismember(self, db: _Db, key: str, member: str) -> bool:
        return member in (db.read(key, set) or set())


def _slice(start: int, stop: int, length: int) -> slice:
    """Redis's inclusive, negative-aware list range as a Python slice."""
    if start < 0:
        start = max(length + start, 0)
    stop = length + stop if stop < 0 else min(stop, length - 1)
    return slice(start, stop + 1) if start <= stop else slice(0, 0)


_HANDLERS: dict[str, Callable[..., Any]] = {
    op: getattr(MemoryStateStore, f"_{op}") for op in READ_OPS | WRITE_OPS
}
