"""The Redis page: each logical database's keys, memory and TTLs; a key browser for our keys.

Every read is bounded: a pattern scan stops after ``max_keys`` keys, and the browser only
decodes keys it understands (profiles, merchant counters, control sets, alert history and
records, case queues, watermarks and counters). It has no command console and deletes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from itertools import islice
from typing import Any

from stream_sentinel.alerts.effects import AlertRecord
from stream_sentinel.console.profile_view import decode_profile
from stream_sentinel.logic.merchants import parse_counters
from stream_sentinel.state import keys
from stream_sentinel.state.base import Batch, Namespace, StateStore
from stream_sentinel.state.stats import SECRET_COMMANDS

NAMESPACES = {ns.name.lower(): ns for ns in Namespace}
SCAN_STEP = 10_000  # keys per SCAN call: fewer round trips through a large database
TTL_BUCKETS = ((0, "no TTL"), (3_600_000, "< 1 h"), (86_400_000, "< 1 d"), (604_800_000, "< 7 d"))


def ttl_bucket(pttl: int) -> str:
    """The TTL histogram's bucket for a PTTL reply (-1: no TTL).

    >>> ttl_bucket(-1), ttl_bucket(60_000), ttl_bucket(10**10)
    ('no TTL', '< 1 h', '>= 7 d')
    """
    if pttl < 0:
        return "no TTL"
    for bound, name in TTL_BUCKETS[1:]:
        if pttl < bound:
            return name
    return ">= 7 d"


def namespace_of(name: str) -> Namespace:
    try:
        return NAMESPACES[name.lower()]
    except KeyError:
        from stream_sentinel.errors import UsageError

        raise UsageError(
            f"unknown logical database {name!r}: use one of {', '.join(NAMESPACES)}"
        ) from None


def scan_keys(
    store: StateStore, ns: Namespace, pattern: str, max_keys: int
) -> tuple[list[dict[str, Any]], dict[str, int], bool]:
    """(keys with their TTL, the TTL histogram, truncated) for at most ``max_keys`` keys.

    A pattern without wildcards is one key, looked up, not scanned for; a sparse pattern still
    walks the whole database (that is what SCAN MATCH does), in large steps."""
    pattern = pattern or "*"
    if not any(mark in pattern for mark in "*?["):
        [exists] = store.execute(Batch().exists(ns, pattern))
        found = [pattern] if exists else []
    else:
        found = sorted(islice(store.scan(ns, pattern, count=SCAN_STEP), max_keys + 1))
    truncated = len(found) > max_keys
    found = found[:max_keys]
    ttls: list[Any] = []
    if found:
        batch = Batch()
        for key in found:
            batch.pttl(ns, key)
        ttls = store.execute(batch)
    histogram = {name: 0 for _, name in TTL_BUCKETS} | {">= 7 d": 0}
    rows = []
    for key, pttl in zip(found, ttls, strict=True):
        histogram[ttl_bucket(int(pttl))] += 1
        rows.append({"key": key, "ttl_ms": int(pttl) if int(pttl) >= 0 else None})
    return rows, histogram, truncated


def _profile(store: StateStore, ns: Namespace, key: str) -> dict[str, Any]:
    [blob] = store.execute(Batch().get(ns, key))
    decoded = decode_profile(blob)
    if decoded is None:
        return {"kind": "profile", "problem": "no profile record of this version at this key"}
    return {"kind": "profile", **decoded}


def _merchant(store: StateStore, ns: Namespace, key: str) -> dict[str, Any]:
    [fields] = store.execute(Batch().hgetall(ns, key))
    counters = parse_counters(fields)
    days = sorted(set().union(*(set(c) for c in counters.values())), reverse=True)
    return {
        "kind": "merchant",
        "days": [
            {
                "day": day,
                "transactions": int(counters["n"].get(day, 0)),
                "fraud_labels": int(counters["f"].get(day, 0)),
                "labels": int(counters["l"].get(day, 0)),
            }
            for day in days
        ],
    }


def _scored_set(store: StateStore, ns: Namespace, key: str) -> dict[str, Any]:
    [members] = store.execute(Batch().zrangebyscore(ns, key, float("-inf"), float("inf"), 500))
    kind = "control" if key in keys.CONTROL_SETS else "sorted set"
    return {"kind": kind, "members": [{"member": m, "score": int(s)} for m, s in members]}


def _history(store: StateStore, ns: Namespace, key: str) -> dict[str, Any]:
    [entries] = store.execute(Batch().lrange(ns, key, 0, 99))
    return {"kind": "alert history", "entries": [json.loads(e) for e in entries]}


def _alert(store: StateStore, ns: Namespace, key: str) -> dict[str, Any]:
    [fields] = store.execute(Batch().hgetall(ns, key))
    if not fields:
        return {"kind": "alert record", "problem": "no such key"}
    record = AlertRecord.parse(fields)
    return {
        "kind": "alert record",
        "fields": {k: v.decode() for k, v in sorted(fields.items())},
        "alert_id": record.alert_id,
    }


def _hash(store: StateStore, ns: Namespace, key: str) -> dict[str, Any]:
    [fields] = store.execute(Batch().hgetall(ns, key))
    return {
        "kind": "hash",
        "fields": {k: v.decode("utf-8", "replace") for k, v in sorted(fields.items())},
    }


def _json_string(store: StateStore, ns: Namespace, key: str) -> dict[str, Any]:
    [blob] = store.execute(Batch().get(ns, key))
    return {"kind": "heartbeat", "value": None if blob is None else json.loads(blob)}


DECODERS: tuple[
    tuple[Namespace, str, Callable[[StateStore, Namespace, str], dict[str, Any]]], ...
] = (
    (Namespace.PROFILES, "user:", _profile),
    (Namespace.PIPELINE, "merchant:", _merchant),
    (Namespace.PIPELINE, "control:", _scored_set),
    (Namespace.PIPELINE, "cases:", _scored_set),
    (Namespace.PIPELINE, "index:", _scored_set),
    (Namespace.PIPELINE, "alerts:", _history),
    (Namespace.PIPELINE, "alert:", _alert),
    (Namespace.PIPELINE, "wm:", _hash),
    (Namespace.PIPELINE, "stats:", _hash),
    (Namespace.PIPELINE, "status:", _json_string),
)


def read_key(store: StateStore, ns: Namespace, key: str) -> dict[str, Any]:
    """The key decoded by what it is in our layout; a plain note for keys we do not decode."""
    for where, prefix, decode in DECODERS:
        if ns is where and key.startswith(prefix):
            return {"key": key, "namespace": ns.name.lower(), **decode(store, ns, key)}
    return {
        "key": key,
        "namespace": ns.name.lower(),
        "kind": "unknown",
        "problem": "the console has no decoder for this key (it shows only keys it understands)",
    }


#: Slowlog entries shown (the newest); Redis keeps 128 by default.
SLOWLOG_LIMIT = 25
NOT_AVAILABLE = "not available on the embedded store"
#: Commands the slowlog shows by name alone (their arguments may hold a secret).
SECRET_COMMAND_NAMES = tuple(sorted(SECRET_COMMANDS))


def store_figures(store: StateStore) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(ops/s, hit rate, evicted and expired keys, clients; each logical database's keys, keys
    with a TTL and mean TTL), from one read of the store's figures; None where it cannot know."""
    stats = store.stats()
    return {
        "ops_per_sec": stats.ops_per_sec,
        "keyspace_hits": stats.keyspace_hits,
        "keyspace_misses": stats.keyspace_misses,
        "hit_rate": stats.hit_rate,
        "evicted_keys": stats.evicted_keys,
        "expired_keys": stats.expired_keys,
        "connected_clients": stats.connected_clients,
        "key_namespace": stats.key_namespace,
    }, [
        {
            "name": d.ns.name.lower(),
            "db": int(d.ns),
            "keys": d.keys,
            "expires": d.expires,
            "avg_ttl_ms": d.avg_ttl_ms,
            "counted_all": d.counted_all,
        }
        for d in stats.databases
    ]


def slowlog_rows(store: StateStore, limit: int = SLOWLOG_LIMIT) -> dict[str, Any]:
    """The newest slowlog entries, their commands already masked by the store."""
    slowlog = store.slowlog(limit)
    return {
        "available": slowlog.available,
        "entries": [
            {
                "id": e.id,
                "time_ms": e.started_at_s * 1000,
                "duration_us": e.duration_us,
                "command": list(e.command),
            }
            for e in slowlog.entries
        ],
    }
