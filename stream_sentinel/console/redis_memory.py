"""Memory per logical database: an estimate from a bounded sample of its keys.

Redis reports memory for the whole server only. Each database's figure here is ``MEMORY USAGE``
(the key, its value and their overhead; Redis itself samples 5 elements of a large hash or
sorted set) over the first :data:`MEMORY_SAMPLE` keys a SCAN returns, their mean times the
database's key count. Those are the first keys of the hash table's order, not a random draw: the
order has nothing to do with a key's size, but a database whose keys differ in size by when they
were written may be misjudged. A database with no more keys than the sample is measured whole,
and says so; where the key count is itself a lower bound (a namespace counted in part) the figure
is one too (``at_least``). The database's own tables (its dict and expiry index) are not
counted. The embedded store has no server-side sizes, and a server that refuses the command (an
ACL, a renamed command) gives none either: both say so instead of a figure.
"""

from __future__ import annotations

from itertools import islice
from typing import Any

from stream_sentinel.console.redis_view import NOT_AVAILABLE
from stream_sentinel.errors import StateError
from stream_sentinel.state.base import Batch, Namespace, StateStore

MEMORY_SAMPLE = 200  # keys measured per logical database (one SCAN and one pipeline each)
GONE = "the sampled keys were gone before they were measured"
REFUSED = "the server refused MEMORY USAGE"


def _sizes(store: StateStore, ns: Namespace, sample: int) -> tuple[int, list[int]]:
    """(keys sampled, the sizes MEMORY USAGE gave for those still there)."""
    names = list(islice(store.scan(ns, "*", count=sample), sample))
    if not names:
        return 0, []
    batch = Batch()
    for name in names:
        batch.memory_usage(ns, name)
    return len(names), [int(size) for size in store.execute(batch) if size is not None]


def memory_estimate(
    store: StateStore,
    ns: Namespace,
    keys: int,
    backend: str,
    sample: int = MEMORY_SAMPLE,
    counted_all: bool = True,
) -> dict[str, Any]:
    """One database's estimated memory: ``bytes`` (None when unknown), the keys ``measured``,
    ``whole`` when every key was, ``at_least`` when ``keys`` (so the figure) is a lower bound,
    and ``problem`` when there is no figure."""
    figure: dict[str, Any] = {"name": ns.name.lower(), "db": int(ns), "keys": keys}
    unknown = {"bytes": None, "measured": 0, "whole": False, "at_least": False}
    if keys == 0 and counted_all:
        return figure | unknown | {"bytes": 0, "whole": True, "problem": None}
    try:
        sampled, sizes = _sizes(store, ns, sample)
    except StateError as exc:
        return figure | unknown | {"problem": f"{REFUSED} ({exc})"}
    if not sizes:
        problem = NOT_AVAILABLE if sampled and backend == "memory" else GONE
        return figure | unknown | {"problem": problem}
    whole = counted_all and len(sizes) >= keys
    total = sum(sizes) if whole else round(sum(sizes) / len(sizes) * max(keys, len(sizes)))
    return figure | {
        "bytes": total,
        "measured": len(sizes),
        "whole": whole,
        "at_least": not counted_all,
        "problem": None,
    }


def memory_estimates(
    store: StateStore, databases: list[dict[str, Any]], backend: str
) -> list[dict[str, Any]]:
    """Every logical database's estimate, from the key counts the page already shows."""
    return [
        memory_estimate(
            store,
            Namespace(d["db"]),
            int(d["keys"]),
            backend,
            counted_all=bool(d.get("counted_all", True)),
        )
        for d in databases
    ]
