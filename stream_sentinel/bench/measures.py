"""The three participants measured on the same preloaded input: ours, the ceiling, the naive one.

Each returns plain figures (dicts ready for the JSON). Ours also reports the detector's own stage
timings (seconds per stage from its metrics), its batch sizes, the CPU of every process in the
window, and Redis memory per user after the run.
"""

from __future__ import annotations

from typing import Any

from stream_sentinel.bench.ceiling import ceiling_target
from stream_sentinel.bench.drive import Drive, Measured, Participant
from stream_sentinel.bench.machine import Servers
from stream_sentinel.bench.naive import naive_target
from stream_sentinel.bench.redismem import RedisMemory
from stream_sentinel.bench.targets import detector_target
from stream_sentinel.bench.workspace import Workspace
from stream_sentinel.config import Settings

CPU_GROUPS = ("kafka", "redis", "bench_reader")


def _timeout_s(expected: int) -> float:
    """Generous: start-up plus at least 500 outputs a second."""
    return 120.0 + expected / 500


def common_figures(measured: Measured, group: str) -> dict[str, Any]:
    figures: dict[str, Any] = {
        "tps": round(measured.tps, 1),
        "tps_basis": measured.basis,
        "outputs": measured.seen.total,
        "window_outputs": measured.window_outputs,
        "window_s": round(measured.window_s, 3),
        "wall_s": round(measured.wall_s, 3),
        "cpu_s_per_1k": measured.cpu_per_1k(group),
        "cpu_s": measured.cpu,
    }
    for other in CPU_GROUPS:
        figures[f"{other}_cpu_s_per_1k"] = measured.cpu_per_1k(other)
    if measured.seen.transaction_ids:
        figures["distinct_decisions"] = len(measured.seen.transaction_ids)
    return figures


def batch_figures(summaries: list[dict[str, Any]]) -> dict[str, Any]:
    records = sum(s.get("records", 0) for s in summaries)
    batches = sum(s.get("batches", 0) for s in summaries)
    figures: dict[str, Any] = {
        "records": records,
        "batches": batches,
        "mean_batch": round(records / batches, 1) if batches else None,
        "max_batch": max((s.get("max_batch", 0) for s in summaries), default=0),
    }
    buckets: dict[str, float] = {}
    for summary in summaries:  # the detector's own histogram: batches of at most `le` records
        for le, count in summary.get("batch_size_buckets", {}).items():
            buckets[le] = buckets.get(le, 0) + count
    if buckets:
        figures["histogram_le"] = buckets
    return figures


def stage_figures(summaries: list[dict[str, Any]], outputs: int) -> dict[str, float]:
    """Milliseconds per 1,000 transactions spent in each stage the detector times itself."""
    totals: dict[str, float] = {}
    for summary in summaries:
        for stage, seconds in summary.get("stage_seconds", {}).items():
            totals[stage] = totals.get(stage, 0.0) + seconds
    if outputs <= 0:
        return {}
    return {stage: round(seconds * 1e6 / outputs, 2) for stage, seconds in totals.items()}


def measure_ours(
    settings: Settings,
    servers: Servers,
    expected: int,
    workers: int = 1,
    low_latency: bool = False,
) -> dict[str, Any]:
    """Our detector (``workers`` processes) over ``expected`` preloaded transactions."""
    memory = RedisMemory(settings)
    output = settings.kafka.topic_prefix + "fraud-scores"
    participant = Participant("detector", detector_target, (settings, low_latency), output, workers)
    try:
        with Drive(settings, participant, servers) as drive:
            drive.until_outputs(expected, _timeout_s(expected))
            measured = drive.finish()
        figures = common_figures(measured, "detector")
        figures["workers"] = workers
        figures["batches"] = batch_figures(measured.summaries)
        figures["stage_ms_per_1k"] = stage_figures(measured.summaries, measured.seen.total)
        figures["decisions"] = _merged(measured.summaries, "decisions")
        figures["alerts"] = _merged(measured.summaries, "alerts")
        figures["dead_letters"] = _merged(measured.summaries, "dead_letters")
        figures["model_version"] = measured.summaries[0].get("model_version")
        figures["close_errors"] = [
            s["close_error"] for s in measured.summaries if "close_error" in s
        ]
        figures["memory"] = memory.figures().as_dict()
    finally:
        memory.close()
    return figures


def measure_ceiling(workspace: Workspace, servers: Servers, expected: int) -> dict[str, Any]:
    settings = workspace.variant("ceiling")
    topic = workspace.passthrough_topic
    participant = Participant("ceiling", ceiling_target, (settings, topic), topic, scores=False)
    with Drive(settings, participant, servers) as drive:
        drive.until_outputs(expected, _timeout_s(expected))
        measured = drive.finish()
    figures = common_figures(measured, "ceiling")
    figures["batches"] = batch_figures(measured.summaries)
    return figures


def measure_naive(
    workspace: Workspace, servers: Servers, max_records: int, max_seconds: float
) -> dict[str, Any]:
    settings = workspace.variant("naive")
    output = workspace.topics.fraud_scores
    args = (settings, max_records, max_seconds)
    participant = Participant("naive", naive_target, args, output)
    memory = RedisMemory(settings)
    try:
        with Drive(settings, participant, servers) as drive:
            drive.until_done(max_seconds + 120.0)
            handled = drive.children.results[0]["records"]
            drive.until_outputs(handled, 30.0)
            measured = drive.finish()
        figures = common_figures(measured, "naive")
        figures["records"] = handled
        figures["limits"] = {"records": max_records, "seconds": max_seconds}
        figures["memory"] = memory.figures().as_dict()
    finally:
        memory.close()
    return figures


def _merged(summaries: list[dict[str, Any]], name: str) -> dict[str, int]:
    merged: dict[str, int] = {}
    for summary in summaries:
        for key, value in (summary.get(name) or {}).items():
            merged[key] = merged.get(key, 0) + int(value)
    return merged
