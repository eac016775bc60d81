"""The state-store interface: what the detector and alert processor need from Redis.

A caller builds a :class:`Batch` of typed commands and hands it to the store in one call; the
Redis backend sends it as one pipeline (one round trip), the embedded backend applies it in
process. :meth:`StateStore.apply_guarded` applies a write batch atomically and only if a
monotonic watermark moves forward, which makes replays idempotent: a batch whose watermark has
already been applied changes nothing.

Keys are logical (``user:42``); each backend adds the configured key namespace. Commands name a
:class:`Namespace`, which maps to a Redis logical database in standalone mode (DESIGN section 5).
Replies: strings/values come back as ``bytes``, hash and set members as ``str``, scores as
``float``, counters as ``int``.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from stream_sentinel.state.stats import Slowlog, StoreStats


class Namespace(enum.IntEnum):
    """Logical databases (the seed's layout)."""

    PROFILES = 0  # user profiles: user:{id}, daily:{id}:{date}
    PIPELINE = 1  # watermarks, merchant state, control state, alerts:{id}, cases
    FEEDBACK = 2
    MODELS = 3
    DRIFT = 4
    EXPERIMENTS = 5


@dataclass(frozen=True, slots=True)
class Command:
    """One command: an opcode, the namespace and key it touches, and its arguments."""

    op: str
    ns: Namespace
    key: str
    args: tuple[Any, ...] = ()


#: Commands that only write; only these may appear in a guarded batch.
WRITE_OPS = frozenset(
    {
        "set",
        "delete",
        "hset",
        "hdel",
        "hincrby",
        "hincrbyfloat",
        "zadd",
        "zrem",
        "zremrangebyscore",
        "lpush",
        "ltrim",
        "sadd",
        "srem",
        "incrby",
        "pexpire",
        "set_many",
    }
)
READ_OPS = frozenset(
    {
        "get",
        "mget",
        "pttl",
        "exists",
        "memory_usage",
        "hgetall",
        "hget",
        "zscore",
        "zmscore",
        "zrangebyscore",
        "zcard",
        "lrange",
        "llen",
        "smembers",
        "sismember",
    }
)


class Batch:
    """An ordered list of commands, built fluently: ``Batch().get(ns, k).hgetall(ns, k2)``."""

    __slots__ = ("commands",)

    def __init__(self) -> None:
        self.commands: list[Command] = []

    def __len__(self) -> int:
        return len(self.commands)

    def _add(self, op: str, ns: Namespace, key: str, *args: Any) -> Batch:
        self.commands.append(Command(op, ns, key, args))
        return self

    # strings and counters
    def get(self, ns: Namespace, key: str) -> Batch:
        return self._add("get", ns, key)

    def mget(self, ns: Namespace, keys: Sequence[str]) -> Batch:
        """Many string values in one command (reply: a list, None where missing)."""
        if not keys:
            raise ValueError("mget needs at least one key")
        return self._add("mget", ns, "", tuple(keys))

    def set_many(
        self, ns: Namespace, keys: Sequence[str], blob: bytes, size: int, ttl_ms: int
    ) -> Batch:
        """Fixed-size values cut from one blob (``size`` bytes each, in key order), with a TTL.

        One command instead of one per key: cheap to build, cheap to ship."""
        if len(blob) != size * len(keys):
            raise ValueError(f"blob of {len(blob)} bytes is not {len(keys)} values of {size}")
        return self._add("set_many", ns, "", tuple(keys), blob, size, ttl_ms)

    def set(self, ns: Namespace, key: str, value: bytes, ttl_ms: int | None = None) -> Batch:
        return self._add("set", ns, key, value, ttl_ms)

    def delete(self, ns: Namespace, key: str) -> Batch:
        return self._add("delete", ns, key)

    def incrby(self, ns: Namespace, key: str, amount: int = 1) -> Batch:
        return self._add("incrby", ns, key, amount)

    def pexpire(self, ns: Namespace, key: str, ttl_ms: int) -> Batch:
        return self._add("pexpire", ns, key, ttl_ms)

    def pttl(self, ns: Namespace, key: str) -> Batch:
        return self._add("pttl", ns, key)

    def exists(self, ns: Namespace, key: str) -> Batch:
        return self._add("exists", ns, key)

    def memory_usage(self, ns: Namespace, key: str) -> Batch:
        """The bytes the key and its value take in the server (reply: None when the key is
        missing, or when the store does not measure memory, as the embedded one does not)."""
        return self._add("memory_usage", ns, key)

    # hashes
    def hgetall(self, ns: Namespace, key: str) -> Batch:
        return self._add("hgetall", ns, key)

    def hget(self, ns: Namespace, key: str, field: str) -> Batch:
        return self._add("hget", ns, key, field)

    def hset(
        self, ns: Namespace, key: str, mapping: Mapping[str, bytes | str | int | float]
    ) -> Batch:
        return self._add("hset", ns, key, tuple(mapping.items()))

    def hdel(self, ns: Namespace, key: str, *fields: str) -> Batch:
        return self._add("hdel", ns, key, *fields)

    def hincrby(self, ns: Namespace, key: str, field: str, amount: int) -> Batch:
        return self._add("hincrby", ns, key, field, amount)

    def hincrbyfloat(self, ns: Namespace, key: str, field: str, amount: float) -> Batch:
        return self._add("hincrbyfloat", ns, key, field, amount)

    # sorted sets (scores: expiry timestamps, times)
    def zadd(self, ns: Namespace, key: str, members: Mapping[str, float]) -> Batch:
        return self._add("zadd", ns, key, tuple(members.items()))

    def zrem(self, ns: Namespace, key: str, *members: str) -> Batch:
        return self._add("zrem", ns, key, *members)

    def zscore(self, ns: Namespace, key: str, member: str) -> Batch:
        return self._add("zscore", ns, key, member)

    def zmscore(self, ns: Namespace, key: str, members: Sequence[str]) -> Batch:
        return self._add("zmscore", ns, key, tuple(members))

    def zrangebyscore(
        self, ns: Namespace, key: str, low: float, high: float, limit: int | None = None
    ) -> Batch:
        return self._add("zrangebyscore", ns, key, low, high, limit)

    def zremrangebyscore(self, ns: Namespace, key: str, low: float, high: float) -> Batch:
        return self._add("zremrangebyscore", ns, key, low, high)

    def zcard(self, ns: Namespace, key: str) -> Batch:
        return self._add("zcard", ns, key)

    # lists (newest first)
    def lpush(self, ns: Namespace, key: str, *values: bytes) -> Batch:
        return self._add("lpush", ns, key, *values)

    def ltrim(self, ns: Namespace, key: str, start: int, stop: int) -> Batch:
        return self._add("ltrim", ns, key, start, stop)

    def lrange(self, ns: Namespace, key: str, start: int, stop: int) -> Batch:
        return self._add("lrange", ns, key, start, stop)

    def llen(self, ns: Namespace, key: str) -> Batch:
        return self._add("llen", ns, key)

    # sets
    def sadd(self, ns: Namespace, key: str, *members: str) -> Batch:
        return self._add("sadd", ns, key, *members)

    def srem(self, ns: Namespace, key: str, *members: str) -> Batch:
        return self._add("srem", ns, key, *members)

    def smembers(self, ns: Namespace, key: str) -> Batch:
        return self._add("smembers", ns, key)

    def sismember(self, ns: Namespace, key: str, member: str) -> Batch:
        return self._add("sismember", ns, key, member)


@dataclass(frozen=True, slots=True)
class Guard:
    """Apply a batch only if ``hash[field]`` (a watermark) is missing or below ``value``.

    When applied, the field is set to ``value`` in the same atomic step. With ``expect``, the
    watermark must also still be what its writer last wrote (None: missing): anything else means
    the store lost writes (a Redis crash under AOF everysec) and nothing is applied.
    """

    ns: Namespace
    key: str
    field: str
    value: int
    expect: int | Literal["any"] | None = "any"


class Outcome(enum.Enum):
    """What a guarded write did."""

    APPLIED = "applied"
    REPLAYED = "replayed"  # the watermark was already at or past the guard: nothing to do
    DIVERGED = "diverged"  # the watermark is behind what its writer last wrote: writes were lost

    def __bool__(self) -> bool:
        return self is Outcome.APPLIED


@dataclass(frozen=True, slots=True)
class StoreInfo:
    """What `check` and the dashboard show about the store."""

    backend: str
    used_memory: int
    maxmemory: int
    maxmemory_policy: str
    aof_enabled: bool
    version: str


class StateStore(Protocol):
    name: str

    def execute(self, batch: Batch) -> list[Any]:
        """Run every command (not atomically) and return one reply per command, in order."""

    def apply_guarded(self, guard: Guard, batch: Batch) -> Outcome:
        """Atomically: if the guard passes, apply the write batch and advance the watermark.

        REPLAYED (nothing changes) when the watermark is already at or past the guard's;
        DIVERGED (nothing changes) when it is not the one the guard expects.
        """

    def apply_guarded_many(self, items: Sequence[tuple[Guard, Batch]]) -> list[Outcome]:
        """Several guarded batches in one round trip; each is atomic on its own."""

    def ping(self) -> bool: ...

    def info(self) -> StoreInfo: ...

    def stats(self) -> StoreStats:
        """Ops/s, hits and misses, evicted and expired keys, clients, and each database's keys."""

    def slowlog(self, limit: int) -> Slowlog:
        """The newest ``limit`` slowlog entries (newest first), their commands masked."""

    def scan(self, ns: Namespace, pattern: str = "*", count: int = 1000) -> Iterator[str]:
        """Logical keys of the namespace matching a glob pattern."""

    def key_count(self, ns: Namespace) -> int:
        """Keys in the namespace (under this store's key namespace)."""

    def clear(self) -> int:
        """Delete every key under this store's key namespace; returns how many went."""

    def close(self) -> None: ...


def check_guarded(batch: Batch) -> None:
    """A guarded batch may only write: reads inside it would see a half-applied state."""
    for command in batch.commands:
        if command.op not in WRITE_OPS:
            raise ValueError(f"{command.op!r} cannot run inside a guarded (atomic write) batch")
