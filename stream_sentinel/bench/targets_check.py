"""The targets of the benchmark issue, checked against a run's figures (None: not measured)."""

from __future__ import annotations

from typing import Any

OURS_TPS = 30_000
NAIVE_MULTIPLE = 10
LATENCY_RATE = 5_000
P99_MS = {"at-least-once": 10.0, "exactly-once": 50.0}
BYTES_PER_USER = 512


def _target(name: str, measured: float | None, met: bool | None) -> dict[str, Any]:
    return {"target": name, "measured": measured, "met": met}


def _at_most(name: str, measured: float | None, limit: float) -> dict[str, Any]:
    return _target(name, measured, None if measured is None else measured <= limit)


def _at_least(name: str, measured: float | None, limit: float) -> dict[str, Any]:
    return _target(name, measured, None if measured is None else measured >= limit)


def check_targets(document: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    throughput = document.get("throughput")
    if throughput:
        if throughput["guarantee"] == "exactly-once":
            out.append(_at_least(f"ours >= {OURS_TPS:,} tx/s (exactly-once)",
                                 throughput["ours_tps"], OURS_TPS))  # fmt: skip
        out.append(_at_least(f"ours >= {NAIVE_MULTIPLE}x naive", throughput["ours_vs_naive"],
                             NAIVE_MULTIPLE))  # fmt: skip
        out.append(_at_most(f"<= {BYTES_PER_USER} bytes of Redis per user",
                            throughput["redis_bytes_per_user"], BYTES_PER_USER))  # fmt: skip
    for row in document.get("latency") or []:
        limit = P99_MS.get(row["guarantee"])
        if row["rate"] == LATENCY_RATE and limit is not None:
            name = f"p99 < {limit:g} ms at {LATENCY_RATE:,}/s ({row['guarantee']})"
            measured = row["p99_ms"]
            out.append(_target(name, measured, None if measured is None else measured < limit))
    return out
