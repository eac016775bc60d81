"""Scaling mode: throughput and Redis memory with 1 vs 2 detector workers and 10k vs 1M users.

For each population size the transactions are preloaded once; each worker count then runs in
a consumer group and key namespace of its own over the same topic, so every run starts from
empty state. A population whose state would not fit in Redis's free memory (maxmemory minus
what is used) is skipped with a note rather than measured under eviction.
"""

from __future__ import annotations

from typing import Any

from stream_sentinel.bench.data import preload
from stream_sentinel.bench.measures import measure_ours
from stream_sentinel.bench.redismem import RedisMemory
from stream_sentinel.bench.session import Session
from stream_sentinel.bench.workspace import Workspace

#: Planning figure for the free-memory check: a profile plus a share of merchant state, with room.
BYTES_PER_USER_BUDGET = 700


def run_scaling(session: Session) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    options = session.options
    for users in options.scaling_users:
        problem = _memory_problem(session, users)
        if problem is not None:
            session.progress(f"scaling: {users:,} users skipped: {problem}")
            rows += [_skipped(workers, users, problem) for workers in options.scaling_workers]
            continue
        rows += _population(session, users)
    return rows


def _population(session: Session, users: int) -> list[dict[str, Any]]:
    options = session.options
    workspace = session.workspace("scaling", guarantee=options.throughput_guarantee)
    try:
        session.progress(f"scaling: preloading {options.count:,} transactions of {users:,} users")
        data = preload(workspace.settings, options.count, users, options.seed)
        return [_point(session, workspace, data.count, users, w) for w in options.scaling_workers]
    finally:
        workspace.cleanup()


def _point(
    session: Session, workspace: Workspace, count: int, users: int, workers: int
) -> dict[str, Any]:
    session.progress(f"scaling: {workers} worker(s), {users:,} users")
    settings = workspace.variant(f"w{workers}")
    ours = measure_ours(settings, session.servers, count, workers=workers)
    memory = ours["memory"]
    return {
        "workers": workers,
        "users": users,
        "tps": ours["tps"],
        "redis_bytes_per_user": memory["redis_bytes_per_user"],
        "profile_key_bytes": memory["profile_key_bytes"],
        "users_with_state": memory["users_with_state"],
        "count": count,
        "guarantee": settings.detector.guarantee,
        "cpu_s_per_1k": ours["cpu_s_per_1k"],
        "decisions_visible": ours["outputs"],
        "batches": ours["batches"],
        "stage_ms_per_1k": ours["stage_ms_per_1k"],
    }


def _memory_problem(session: Session, users: int) -> str | None:
    memory = RedisMemory(session.settings)
    try:
        limit, used = memory.maxmemory(), memory.used_memory()
    finally:
        memory.close()
    need = min(users, session.options.count) * BYTES_PER_USER_BUDGET
    if limit == 0 or limit - used >= need:
        return None
    return (
        f"its state needs about {need / 2**20:,.0f} MiB but Redis has "
        f"{max(limit - used, 0) / 2**20:,.0f} MiB free under maxmemory: rerun with --own-stack "
        "(Redis with 4gb) or restart the stack with "
        "`stream-sentinel infra up --redis-maxmemory 4gb`"
    )


def _skipped(workers: int, users: int, reason: str) -> dict[str, Any]:
    return {
        "workers": workers,
        "users": users,
        "tps": None,
        "redis_bytes_per_user": None,
        "skipped": reason,
    }
