"""The real state store: redis-py with hiredis, wrapped once, thinly.

Three layers, as in redis-py itself: :func:`wire` turns a :class:`Command` into Redis arguments,
a pipeline moves a whole batch in one round trip (switching logical databases with SELECT inside
the pipeline and switching back at its end), and :data:`_PARSERS` normalise the replies to the
types the interface promises. Guarded batches run as one Lua script, so the watermark check and
every write are atomic — also across logical databases, since SELECT inside a script only
affects the script. (Redis Cluster has only DB 0 and cannot run such scripts; it is not
supported yet.)

Unavailable Redis (refused, timed out, still loading its AOF) is retried with backoff and each
failure is logged; after the configured attempts :class:`ServiceUnavailable` says what to check.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

import redis

from stream_sentinel.clock import SYSTEM_CLOCK, Clock
from stream_sentinel.config import RedisSettings
from stream_sentinel.errors import ServiceUnavailable, StateError
from stream_sentinel.state import stats as figures
from stream_sentinel.state.base import (
    Batch,
    Command,
    Guard,
    Namespace,
    Outcome,
    StoreInfo,
    check_guarded,
)
from stream_sentinel.state.redis_databases import on_database
from stream_sentinel.transport.retry import Backoff, retrying

_OUTCOMES = {1: Outcome.APPLIED, 0: Outcome.REPLAYED, -1: Outcome.DIVERGED}

log = logging.getLogger(__name__)
T = TypeVar("T")

_RETRYABLE = (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError, OSError)

_GUARDED_SCRIPT = """
local gdb = tonumber(ARGV[1])
redis.call('SELECT', gdb)
local current = redis.call('HGET', ARGV[2], ARGV[3])
if current and tonumber(current) >= tonumber(ARGV[4]) then return 0 end
if ARGV[5] ~= 'any' then
  local expected = ARGV[5]
  if (expected == '' and current) or (expected ~= '' and current ~= expected) then return -1 end
end
local selected = gdb
local i = 6
local n = #ARGV
while i <= n do
  local cmd, db, key, nargs = ARGV[i], tonumber(ARGV[i + 1]), ARGV[i + 2], tonumber(ARGV[i + 3])
  if db ~= selected then redis.call('SELECT', db); selected = db end
  if cmd == 'SETMANY' then
    local ttl, size, blob = ARGV[i + 4], tonumber(ARGV[i + 5]), ARGV[i + 6]
    for k = 0, nargs - 4 do
      redis.call('SET', ARGV[i + 7 + k], string.sub(blob, k * size + 1, (k + 1) * size), 'PX', ttl)
    end
  elseif nargs > 0 then
    -- in slices of 1000: unpack stops at ~8000 values; every write here splits evenly
    for first = i + 4, i + 3 + nargs, 1000 do
      redis.call(cmd, key, unpack(ARGV, first, math.min(first + 999, i + 3 + nargs)))
    end
  else
    redis.call(cmd, key)
  end
  i = i + 4 + nargs
end
if selected ~= gdb then redis.call('SELECT', gdb) end
redis.call('HSET', ARGV[2], ARGV[3], ARGV[4])
return 1
"""


def probe_redis(url: str, password: str | None = None, timeout_s: float = 2.0) -> bool:
    """True when a Redis server at ``url`` answers PING within ``timeout_s``."""
    client = redis.Redis.from_url(
        url, password=password, socket_timeout=timeout_s, socket_connect_timeout=timeout_s
    )
    try:
        return bool(client.ping())
    except (redis.ConnectionError, redis.TimeoutError, OSError):
        return False
    finally:
        client.close()


def wire(command: Command, prefix: str) -> tuple[str, list[Any]]:
    """The Redis command name and arguments (after the key) of a write command."""
    op, args = command.op, command.args
    if op == "set_many":
        keys, blob, size, ttl_ms = args
        return "SETMANY", [ttl_ms, size, blob, *(prefix + key for key in keys)]
    if op == "set":
        value, ttl_ms = args
        return "SET", [value] if ttl_ms is None else [value, "PX", ttl_ms]
    if op == "delete":
        return "DEL", []
    if op == "hset":
        return "HSET", [part for pair in args[0] for part in pair]
    if op == "zadd":
        return "ZADD", [part for member, score in args[0] for part in (score, member)]
    return op.upper(), list(args)


def _decode_members(values: Any) -> set[str]:
    return {v.decode() if isinstance(v, bytes) else str(v) for v in values}


def _parse_pairs(pairs: Any) -> list[tuple[str, float]]:
    return [(m.decode() if isinstance(m, bytes) else m, float(s)) for m, s in pairs]


#: Reply normalisers per opcode (what redis-py returns -> what the interface promises).
_PARSERS: dict[str, Callable[[Any], Any]] = {
    "set": lambda r: None,
    "set_many": lambda r: None,
    "ltrim": lambda r: None,
    "exists": bool,
    "pexpire": bool,
    "sismember": bool,
    "hgetall": lambda r: {k.decode(): v for k, v in r.items()},
    "hincrbyfloat": float,
    "zscore": lambda r: None if r is None else float(r),
    "zmscore": lambda r: [None if s is None else float(s) for s in r],
    "zrangebyscore": _parse_pairs,
    "smembers": _decode_members,
    "lrange": list,
    "mget": list,
}


class RedisStateStore:
    """The :class:`~stream_sentinel.state.base.StateStore` interface over Redis."""

    name = "redis"

    def __init__(self, settings: RedisSettings, clock: Clock = SYSTEM_CLOCK) -> None:
        """``clock`` paces the retries of an unavailable Redis (a ManualClock in tests)."""
        self._settings = settings
        self._clock = clock
        self._backoff = Backoff(
            settings.retry_backoff_s, settings.retry_backoff_max_s, settings.retry_attempts
        )
        self._prefix = f"{settings.key_namespace}:" if settings.key_namespace else ""
        self._client: redis.Redis | None = None
        self._db_clients: dict[Namespace, redis.Redis] = {}
        self._script: Any = None

    @property
    def client(self) -> redis.Redis:
        """The underlying client (logical DB 0), created on first use."""
        if self._client is None:
            password = self._settings.login_password()
            self._client = redis.Redis.from_url(
                self._settings.url,
                db=0,
                password=password.get_secret_value() if password else None,
                socket_timeout=self._settings.socket_timeout_s,
                socket_connect_timeout=self._settings.socket_timeout_s,
                health_check_interval=30,
            )
        return self._client

    # -- batches ----------------------------------------------------------------------------------
    def execute(self, batch: Batch) -> list[Any]:
        if not batch.commands:
            return []
        return self._retrying("execute", lambda: self._execute_once(batch))

    def _execute_once(self, batch: Batch) -> list[Any]:
        pipe = self.client.pipeline(transaction=False)
        selected = Namespace.PROFILES
        replies_at: list[int] = []
        for command in batch.commands:
            if command.ns != selected:
                pipe.execute_command("SELECT", int(command.ns))
                selected = command.ns
            replies_at.append(len(pipe.command_stack))
            self._queue(pipe, command)
        if selected != Namespace.PROFILES:
            pipe.execute_command("SELECT", int(Namespace.PROFILES))
        try:
            replies = pipe.execute()
        except redis.ResponseError as exc:
            raise StateError(f"Redis rejected a command: {exc}") from exc
        return [
            _PARSERS.get(c.op, _identity)(replies[i])
            for c, i in zip(batch.commands, replies_at, strict=True)
        ]

    def _queue(self, pipe: Any, command: Command) -> None:
        key = self._prefix + command.key
        op, args = command.op, command.args
        if op == "zrangebyscore":
            low, high, limit = args
            extra = {"start": 0, "num": limit} if limit is not None else {}
            pipe.zrangebyscore(key, low, high, withscores=True, **extra)
        elif op == "zmscore":
            pipe.zmscore(key, list(args[0]))
        elif op == "mget":
            pipe.mget([self._prefix + k for k in args[0]])
        elif op == "set_many":
            keys, blob, size, ttl_ms = args
            for i, name in enumerate(keys):
                pipe.set(self._prefix + name, blob[i * size : (i + 1) * size], px=ttl_ms)
        elif op in ("get", "hgetall", "smembers", "zcard", "llen", "pttl", "exists"):
            getattr(pipe, op)(key)
        elif op in ("hget", "zscore", "sismember", "lrange", "memory_usage"):
            getattr(pipe, op)(key, *args)
        else:
            name, wire_args = wire(command, self._prefix)
            pipe.execute_command(name, key, *wire_args)

    def apply_guarded(self, guard: Guard, batch: Batch) -> Outcome:
        argv = self._guarded_argv(guard, batch)
        reply = self._retrying("apply_guarded", lambda: self._guarded_script()(args=argv))
        return _OUTCOMES[int(reply)]

    def apply_guarded_many(self, items: Sequence[tuple[Guard, Batch]]) -> list[Outcome]:
        if not items:
            return []
        argvs = [self._guarded_argv(guard, batch) for guard, batch in items]

        def run() -> list[Outcome]:
            script = self._guarded_script()
            pipe = self.client.pipeline(transaction=False)
            for argv in argvs:
                script(args=argv, client=pipe)
            return [_OUTCOMES[int(reply)] for reply in pipe.execute()]

        return self._retrying("apply_guarded_many", run)

    def _guarded_argv(self, guard: Guard, batch: Batch) -> list[Any]:
        check_guarded(batch)
        expect = "any" if guard.expect == "any" else ("" if guard.expect is None else guard.expect)
        argv: list[Any] = [
            int(guard.ns),
            self._prefix + guard.key,
            guard.field,
            guard.value,
            expect,
        ]
        for command in batch.commands:
            name, args = wire(command, self._prefix)
            argv += [name, int(command.ns), self._prefix + command.key, len(args), *args]
        return argv

    def _guarded_script(self) -> Any:
        if self._script is None:
            self._script = self.client.register_script(_GUARDED_SCRIPT)
        return self._script

    # -- introspection ----------------------------------------------------------------------------
    def ping(self) -> bool:
        try:
            return bool(self.client.ping())
        except _RETRYABLE:
            return False

    def check_health(self) -> None:
        """Return when Redis answers one PING (not retried).

        :class:`ServiceUnavailable` when it cannot be reached, :class:`StateError` when it answers
        but refuses us (a wrong password); the message is Redis's own reason, for the caller to
        put beside the address and what to check.
        """
        try:
            self.client.ping()
        except (redis.AuthenticationError, redis.ResponseError) as exc:  # before ConnectionError
            raise StateError(str(exc)) from exc
        except (redis.RedisError, OSError) as exc:
            raise ServiceUnavailable(str(exc) or type(exc).__name__) from exc

    def info(self) -> StoreInfo:
        info = self._retrying("info", lambda: self.client.info())
        return StoreInfo(
            backend="redis",
            used_memory=int(info.get("used_memory", 0)),
            maxmemory=int(info.get("maxmemory", 0)),
            maxmemory_policy=str(info.get("maxmemory_policy", "")),
            aof_enabled=bool(int(info.get("aof_enabled", 0))),
            version=str(info.get("redis_version", "")),
        )

    def stats(self) -> figures.StoreStats:
        """INFO stats, clients and keyspace; under a key namespace, each database's figures are
        this store's keys only (a SCAN of each database and one PTTL per key, pipelined)."""
        info = self._retrying(
            "info", lambda: self.client.info("stats") | self.client.info("clients")
        )
        if self._prefix:
            databases = tuple(self._own_database_stats(ns) for ns in Namespace)
        else:
            databases = figures.keyspace_stats(
                self._retrying("info", lambda: self.client.info("keyspace"))
            )
        return figures.StoreStats(
            backend="redis",
            ops_per_sec=int(info.get("instantaneous_ops_per_sec", 0)),
            keyspace_hits=int(info.get("keyspace_hits", 0)),
            keyspace_misses=int(info.get("keyspace_misses", 0)),
            evicted_keys=int(info.get("evicted_keys", 0)),
            expired_keys=int(info.get("expired_keys", 0)),
            connected_clients=int(info.get("connected_clients", 0)),
            key_namespace=self._settings.key_namespace,
            databases=databases,
        )

    def _own_database_stats(self, ns: Namespace) -> figures.DatabaseStats:
        found, counted_all = figures.first_keys(self.scan(ns))  # a bounded read
        keys, ttls = [self._prefix + k for k in found], []
        for start in range(0, len(keys), 1000):
            pipe = self._db_client(ns).pipeline(transaction=False)
            for key in keys[start : start + 1000]:
                pipe.pttl(key)
            ttls += [int(t) for t in self._retrying("pttl", pipe.execute) if int(t) >= 0]
        average = sum(ttls) // len(ttls) if ttls else 0
        return figures.DatabaseStats(ns, len(keys), len(ttls), average, counted_all)

    def slowlog(self, limit: int) -> figures.Slowlog:
        """SLOWLOG GET read raw (redis-py's parser joins the arguments with spaces, losing where
        one ends), each command masked before it leaves this method."""
        reply = self._retrying(
            "slowlog", lambda: self.client.execute_command("SLOWLOG", "GET", limit)
        )
        return figures.Slowlog(True, tuple(figures.slow_entry(item) for item in reply))

    def scan(self, ns: Namespace, pattern: str = "*", count: int = 1000) -> Iterator[str]:
        client = self._db_client(ns)
        strip = len(self._prefix)
        for key in client.scan_iter(match=self._prefix + pattern, count=count):
            yield key.decode()[strip:]

    def key_count(self, ns: Namespace) -> int:
        if not self._prefix:
            return int(self._retrying("dbsize", lambda: self._db_client(ns).dbsize()))
        return sum(1 for _ in self.scan(ns))

    def clear(self) -> int:
        removed = 0
        for ns in Namespace:
            client = self._db_client(ns)
            keys = [self._prefix + k for k in self.scan(ns)]
            for start in range(0, len(keys), 1000):
                removed += int(client.unlink(*keys[start : start + 1000]))
        return removed

    def _db_client(self, ns: Namespace) -> redis.Redis:
        """A client bound to one logical database (for SCAN and DBSIZE, which need it)."""
        if ns == Namespace.PROFILES:
            return self.client
        if ns not in self._db_clients:
            self._db_clients[ns] = on_database(self.client, int(ns))
        return self._db_clients[ns]

    def close(self) -> None:
        for client in self._db_clients.values():
            client.close()
        self._db_clients = {}
        if self._client is not None:
            self._client.close()
            self._client = None
            self._script = None

    # -- resilience -------------------------------------------------------------------------------
    def _retrying(self, what: str, call: Callable[[], T]) -> T:
        attempts = self._settings.retry_attempts

        def warn(exc: Exception, attempt: int, wait: float) -> None:
            log.warning(
                "Redis %s failed (%s); retrying in %.1fs (%d/%d)",
                what,
                exc,
                wait,
                attempt,
                attempts,
            )

        try:
            return retrying(
                call, self._backoff, retriable=_RETRYABLE, clock=self._clock, on_retry=warn
            )
        except _RETRYABLE as exc:
            raise ServiceUnavailable(
                f"Redis at {self._settings.shown_url} is unavailable after {attempts} "
                f"attempts ({exc}). Is it running? `stream-sentinel infra status` shows "
                "the local one; SENTINEL_REDIS_URL points elsewhere."
            ) from exc


def _identity(reply: Any) -> Any:
    return reply
