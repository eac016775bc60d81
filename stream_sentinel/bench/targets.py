"""What runs in the benchmark's child processes: our detector, and the paced generator.

The detector child is `stream-sentinel detect` without the console: ``build_process`` and
``DetectorProcess.run``, unchanged. Its stop check also tells the parent when the worker's
partition assignment changes (so a multi-worker run can be timed from the moment every worker
holds partitions), and its summary carries the detector's own per-stage timings and batch sizes
from its Prometheus registry.
"""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import CollectorRegistry

from stream_sentinel.config import Settings
from stream_sentinel.errors import SentinelError

ASSIGNED = "assigned"


def stage_totals(registry: CollectorRegistry) -> dict[str, Any]:
    """Seconds per stage and the batch-size histogram, from a detector's metrics."""
    stages: dict[str, float] = {}
    batches: dict[str, float] = {}
    for metric in registry.collect():
        for sample in metric.samples:
            if sample.name == "sentinel_stage_seconds_sum":
                stages[sample.labels["stage"]] = round(sample.value, 4)
            elif sample.name == "sentinel_batch_size_bucket":
                batches[sample.labels["le"]] = sample.value
    return {"stage_seconds": stages, "batch_size_buckets": batches}


class AssignmentWatch:
    """Reports the worker's partition count to the parent whenever it changes."""

    def __init__(self, process: Any, slot: int, messages: Any) -> None:
        self.process, self.slot, self.messages = process, slot, messages
        self.partitions = -1

    def __call__(self) -> bool:
        consumer = self.process.detector.loop.consumer
        count = len(consumer.assignment()) if consumer is not None else 0
        if count != self.partitions:
            self.partitions = count
            self.messages.put((ASSIGNED, self.slot, (time.time(), count)))
        return False


def detector_target(
    slot: int, messages: Any, stop: Any, settings: Settings, low_latency: bool
) -> dict[str, Any]:
    """One detector process until the parent says stop; returns its summary."""
    from stream_sentinel.detector.runner import RunOptions, build_process

    process = build_process(settings, slot, low_latency)
    watch = AssignmentWatch(process, slot, messages)
    try:
        summary = process.run(lambda: watch() or stop.is_set(), RunOptions(low_latency=low_latency))
    except SentinelError as exc:
        if not stop.is_set():
            raise
        # Failing to close after everything is committed costs the figures nothing (the reader
        # has verified every decision); it is reported, not fatal.
        summary = process.summary()
        summary["close_error"] = f"{type(exc).__name__}: {exc}"
    summary.update(stage_totals(process.metrics.registry))
    summary["cached_users"] = process.detector.state.cached_users
    process.backends.close()
    return summary


def generator_target(
    slot: int,
    messages: Any,
    stop: Any,
    settings: Settings,
    users: int,
    seed: int,
    rate: float,
    duration_s: float,
) -> dict[str, Any]:
    """The generator at ``rate`` transactions/s for ``duration_s``; returns what it delivered."""
    from stream_sentinel.bench.data import generate

    started = time.time()
    outcome = generate(settings, users, seed, rate, None, duration_s)
    return {
        "sent": outcome.sent,
        "delivered": outcome.delivery.transactions,
        "errors": outcome.delivery.errors,
        "started": started,
        "elapsed_s": round(outcome.elapsed_s, 3),
        "rate": round(outcome.sent / outcome.elapsed_s, 1) if outcome.elapsed_s else 0.0,
    }
