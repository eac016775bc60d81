"""Memory per logical database: an estimate from a bounded sample of its keys.

Redis reports memory for the whole server only. Each database's figure here is ``MEMORY USAGE``
(the key, its value and their overhead; Redis itself samples 5 elements of a large hash or
sorted set) over the first :data:`MEMORY_SAMPLE` keys a SCAN returns, their mean times the
database's key count. SCAN walks the hash table, whose order has nothing to do with a key's size,
so the sample is a fair one; a database with no more keys than the sample is measured whole, and
says so. The database's own tables (its dict and expiry index) are not counted. The embedded
store has no server-side sizes and says so.
"""

from __future__ import annotations

from itertools import islice
from typing import Any

from stream_sentinel.console.redis_view import NOT_AVAILABLE
from stream_sentinel.state.base import Batch, Namespace, StateStore

MEMORY_SAMPLE = 200  # keys measured per logical database (one SCAN and one pipeline each)
GONE = "the sampled keys were gone before they were measured"


def memory_estimate(
    store: StateStore, ns: Namespace, keys: int, backend: str, sample: int = MEMORY_SAMPLE
) -> dict[str, Any]:
    """One database's estimated memory: ``bytes`` (None when unknown), the keys ``measured``,
    ``whole`` when every key was, and ``problem`` when there is no figure."""
    figure: dict[str, Any] = {"name": ns.name.lower(), "db": int(ns), "keys": keys}
    if keys == 0:
        return figure | {"bytes": 0, "measured": 0, "whole": True, "problem": None}
    names = list(islice(store.scan(ns, "*", count=sample), sample))
    batch = Batch()
    for name in names:
        batch.memory_usage(ns, name)
    sizes = [int(size) for size in (store.execute(batch) if names else []) if size is not None]
    if not sizes:
        problem = NOT_AVAILABLE if names and backend == "memory" else GONE
        return figure | {"bytes": None, "measured": 0, "whole": False, "problem": problem}
    whole = len(sizes) >= keys
    total = sum(sizes) if whole else round(sum(sizes) / len(sizes) * keys)
    return figure | {"bytes": total, "measured": len(sizes), "whole": whole, "problem": None}


def memory_estimates(
    store: StateStore, databases: list[dict[str, Any]], backend: str
) -> list[dict[str, Any]]:
    """Every logical database's estimate, from the key counts the page already shows."""
    return [memory_estimate(store, Namespace(d["db"]), int(d["keys"]), backend) for d in databases]
