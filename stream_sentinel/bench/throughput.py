"""Throughput mode: ours beside the ceiling and the naive detector, on the same preloaded data.

Order: preload, the ceiling (it reads the data cold from the broker just as ours does next),
ours, then the naive detector (last: it is slow, and its per-user hashes live in a key
namespace of their own, so they never touch ours or its memory figure).
"""

from __future__ import annotations

from typing import Any

from stream_sentinel.bench.data import FRAUD_RATE, preload
from stream_sentinel.bench.measures import measure_ceiling, measure_naive, measure_ours
from stream_sentinel.bench.session import Session


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if not numerator or not denominator:
        return None
    return round(numerator / denominator, 4)


def run_throughput(session: Session) -> dict[str, Any]:
    options, say = session.options, session.progress
    guarantee = options.throughput_guarantee
    workspace = session.workspace("throughput", guarantee=guarantee)
    try:
        say(f"throughput: preloading {options.count:,} transactions of {options.users:,} users")
        data = preload(workspace.settings, options.count, options.users, options.seed)
        say(f"throughput: ceiling (raw pass-through, {guarantee})")
        ceiling = measure_ceiling(workspace, session.servers, data.count)
        say(f"throughput: our detector ({guarantee})")
        ours = measure_ours(workspace.settings, session.servers, data.count)
        say(
            f"throughput: naive per-message detector (at most {options.naive_records:,} "
            f"records or {options.naive_seconds:g} s)"
        )
        naive = measure_naive(
            workspace, session.servers, options.naive_records, options.naive_seconds
        )
    finally:
        workspace.cleanup()
    return summarise(guarantee, data.as_dict(), ours, ceiling, naive)


def summarise(
    guarantee: str,
    data: dict[str, Any],
    ours: dict[str, Any],
    ceiling: dict[str, Any],
    naive: dict[str, Any],
) -> dict[str, Any]:
    ours_tps, ceiling_tps, naive_tps = ours["tps"], ceiling["tps"], naive["tps"]
    memory = ours["memory"]
    return {
        "guarantee": guarantee,
        "count": data["count"],
        "users": data["users"],
        "fraud_rate": FRAUD_RATE,
        "ours_tps": ours_tps,
        "ceiling_tps": ceiling_tps,
        "naive_tps": naive_tps,
        "ours_vs_ceiling": ratio(ours_tps, ceiling_tps),
        "ours_vs_naive": ratio(ours_tps, naive_tps),
        "cpu_s_per_1k": ours["cpu_s_per_1k"],
        "redis_bytes_per_user": memory["redis_bytes_per_user"],
        "profile_key_bytes": memory["profile_key_bytes"],
        "decisions_visible": ours["outputs"],
        "distinct_decisions": ours.get("distinct_decisions"),
        "preload": data,
        "ours": ours,
        "ceiling": ceiling,
        "naive": naive,
    }
