"""One benchmark invocation from start to JSON: the session, the modes asked for, the context.

The document has one key per mode that ran (``throughput``, ``latency``, ``scaling``) plus what
is needed to compare runs across commits: the machine, the versions, the settings the clients
ran with, the data sizes and the targets with whether each was met.
"""

from __future__ import annotations

import time
from typing import Any

from stream_sentinel.bench.latency import CLIENT_PROFILE, run_latency
from stream_sentinel.bench.machine import machine, now_iso, versions
from stream_sentinel.bench.options import BenchOptions, Mode
from stream_sentinel.bench.redismem import RedisMemory
from stream_sentinel.bench.scaling import run_scaling
from stream_sentinel.bench.session import Progress, Session, open_session
from stream_sentinel.bench.targets_check import check_targets
from stream_sentinel.bench.throughput import run_throughput
from stream_sentinel.config import Settings

FORMAT_VERSION = 1


def run_bench(
    settings: Settings, mode: Mode, options: BenchOptions, progress: Progress, command: str = ""
) -> dict[str, Any]:
    options.validate()
    began = time.monotonic()
    with open_session(settings, options, progress) as session:
        document = _context(session, mode, command)
        if mode in ("throughput", "all"):
            document["throughput"] = run_throughput(session)
        if mode in ("latency", "all"):
            document["latency"] = run_latency(session)
        if mode in ("scaling", "all"):
            document["scaling"] = run_scaling(session)
    document["bench"]["elapsed_s"] = round(time.monotonic() - began, 1)
    document["targets"] = check_targets(document)
    return document


def _context(session: Session, mode: Mode, command: str) -> dict[str, Any]:
    memory = RedisMemory(session.settings)
    try:
        redis = memory.store.info()
    finally:
        memory.close()
    return {
        "bench": {
            "format": FORMAT_VERSION,
            "mode": mode,
            "date": now_iso(),
            "command": command,
            "stack": session.stack,
        },
        "machine": machine(),
        "versions": versions(session.servers, redis.version),
        "settings": _settings(session, redis.maxmemory, redis.maxmemory_policy, redis.aof_enabled),
        "data": _data(session.options),
    }


def _settings(session: Session, maxmemory: int, policy: str, aof: bool) -> dict[str, Any]:
    kafka, detector = session.settings.kafka, session.settings.detector
    return {
        "kafka": {
            "bootstrap": kafka.bootstrap,
            "acks": kafka.acks,
            "idempotence": kafka.enable_idempotence,
            "linger_ms": kafka.linger_ms,
            "batch_size": kafka.batch_size,
            "compression": kafka.compression,
            "fetch_min_bytes": kafka.fetch_min_bytes,
            "fetch_wait_max_ms": kafka.fetch_wait_max_ms,
            "latency_client_profile": CLIENT_PROFILE,
        },
        "detector": {
            "max_batch": detector.max_batch,
            "max_batch_burst": detector.max_batch_burst,
            "poll_timeout_ms": detector.poll_timeout_ms,
            "user_cache_size": detector.user_cache_size,
            "feature_log": detector.feature_log,
            "model_version": session.model_version,
        },
        "redis": {
            "url": session.settings.redis.shown_url,
            "maxmemory": maxmemory,
            "maxmemory_policy": policy,
            "appendonly": aof,
        },
    }


def _data(options: BenchOptions) -> dict[str, Any]:
    return {
        "count": options.count,
        "users": options.users,
        "latency_rates": list(options.rates),
        "latency_duration_s": options.duration_s,
        "latency_warmup_s": options.warmup_s,
        "naive_limits": {"records": options.naive_records, "seconds": options.naive_seconds},
        "scaling_users": list(options.scaling_users),
        "scaling_workers": list(options.scaling_workers),
        "seed": options.seed,
    }
