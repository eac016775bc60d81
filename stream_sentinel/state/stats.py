"""What a state store reports about itself for the console: server figures, each logical
database's keys and TTLs, and the slow log with every command masked before it leaves the store
(no value that could hold a secret is ever shown)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from stream_sentinel.state.base import Namespace


@dataclass(frozen=True, slots=True)
class DatabaseStats:
    """One logical database's keys, keys with a TTL, and their mean remaining TTL.

    Under a key namespace, the figures count only this store's keys (found by SCAN); without
    one, the whole logical database (Redis's INFO keyspace, whose ``avg_ttl`` is an estimate).
    ``avg_ttl_ms`` is 0 when no key has a TTL, as in INFO.
    """

    ns: Namespace
    keys: int
    expires: int
    avg_ttl_ms: int
    counted_all: bool = True  # False: the SCAN stopped at its bound; ``keys`` is a lower bound


#: Keys a namespaced store counts per database for the console's figures (a bounded read).
STATS_SCAN_LIMIT = 10_000


def first_keys(keys: Iterator[str], limit: int = STATS_SCAN_LIMIT) -> tuple[list[str], bool]:
    """At most ``limit`` of ``keys``, and whether that was all of them."""
    found = list(itertools.islice(keys, limit + 1))
    return found[:limit], len(found) <= limit


@dataclass(frozen=True, slots=True)
class StoreStats:
    """Server figures for the console: None where the backend cannot know them."""

    backend: str
    ops_per_sec: int | None
    keyspace_hits: int | None
    keyspace_misses: int | None
    evicted_keys: int | None
    expired_keys: int | None
    connected_clients: int | None
    key_namespace: str  # "" when the database figures are whole logical databases
    databases: tuple[DatabaseStats, ...]

    @property
    def hit_rate(self) -> float | None:
        """Hits over hits and misses; None when unknown or when nothing was looked up."""
        if self.keyspace_hits is None or self.keyspace_misses is None:
            return None
        total = self.keyspace_hits + self.keyspace_misses
        return None if total == 0 else self.keyspace_hits / total


@dataclass(frozen=True, slots=True)
class SlowEntry:
    """One slowlog entry; ``command`` is already masked (see :func:`mask_command`)."""

    id: int
    started_at_s: int
    duration_us: int
    command: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Slowlog:
    """The newest slowlog entries, newest first; ``available`` is False where there is none."""

    available: bool
    entries: tuple[SlowEntry, ...] = ()


#: Commands whose arguments may hold a secret (passwords, ACL rules, config values, a
#: MIGRATE's AUTH): only their name is shown.
SECRET_COMMANDS = frozenset({"AUTH", "HELLO", "ACL", "CONFIG", "MIGRATE", "CLIENT", "MODULE"})
SHOWN_ARGS = 3  # arguments shown after the command name
SHOWN_CHARS = 32  # characters shown of the first argument


def mask_command(argv: Sequence[bytes | str]) -> tuple[str, ...]:
    """A command as the console may show it: the name, then at most :data:`SHOWN_ARGS` arguments.

    The first argument (the key, for data commands) is shown cut to :data:`SHOWN_CHARS`
    characters; every later argument is a value and shows only its size; what is past the
    shown arguments is counted. A command that may carry a secret shows its name alone.
    """
    if not argv:
        return ()
    raw = [a if isinstance(a, bytes) else str(a).encode() for a in argv]
    name = raw[0].decode("utf-8", "replace").upper()
    if name in SECRET_COMMANDS:
        return (name,)
    shown = [name]
    args = raw[1:]
    for i, arg in enumerate(args[:SHOWN_ARGS]):
        if i == 0:
            text = arg.decode("utf-8", "replace")
            shown.append(text if len(text) <= SHOWN_CHARS else text[:SHOWN_CHARS] + "…")
        else:
            shown.append(f"<{len(arg)} bytes>")
    if len(args) > SHOWN_ARGS:
        shown.append(f"… {len(args) - SHOWN_ARGS} more")
    return tuple(shown)


def keyspace_stats(keyspace: dict[str, Any]) -> tuple[DatabaseStats, ...]:
    """Each namespace's figures from redis-py's parsed INFO keyspace (``{"db1": {"keys": 3,
    "expires": 1, "avg_ttl": 500}}``); a database INFO does not list is empty."""
    dbs = [(ns, keyspace.get(f"db{int(ns)}") or {}) for ns in Namespace]
    return tuple(
        DatabaseStats(ns, int(d.get("keys", 0)), int(d.get("expires", 0)), int(d.get("avg_ttl", 0)))
        for ns, d in dbs
    )


def slow_entry(item: Sequence[Any]) -> SlowEntry:
    """One raw SLOWLOG GET entry (id, start time, duration in µs, arguments, ...), masked."""
    argv = item[3] if len(item) > 3 and isinstance(item[3], list) else []
    return SlowEntry(int(item[0]), int(item[1]), int(item[2]), mask_command(argv))
