"""Latency mode: the generator produces at a fixed rate while our detector runs.

Per point (rate x guarantee), in a fresh workspace, with the low-latency client profile
(linger 1 ms, fetch.min.bytes 1, fetch.wait.max.ms 5) for the detector loop's consumer and
producer (as `detect --low-latency` runs it), the generator's producer and the reader:

1. the detector starts; a probe of a few transactions is produced and its decisions awaited,
   so the detector has joined its group, loaded its model and is idle when the load begins;
2. the generator (a process of its own) produces at ``rate`` for ``warmup_s + duration_s``;
3. every decision is read by a read_committed reader; a transaction's latency is the wall
   time the reader received its decision minus the input record's Kafka timestamp (CreateTime,
   stamped by the generator's producer when it queued the record; carried in the FraudScore as
   ``produced_time``). Transactions stamped in the first ``warmup_s`` are left out.

All three processes read the same clock (one machine), so no skew enters; Kafka timestamps have
millisecond resolution, so each figure is good to about 1 ms.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from stream_sentinel.bench.children import Children
from stream_sentinel.bench.data import preload
from stream_sentinel.bench.drive import BenchTimeout, Drive, Measured, Participant
from stream_sentinel.bench.lag import LagSampler
from stream_sentinel.bench.measures import batch_figures
from stream_sentinel.bench.session import Session
from stream_sentinel.bench.targets import detector_target, generator_target
from stream_sentinel.config import Settings

PROBE = 24
PERCENTILES = {"p50_ms": 50.0, "p90_ms": 90.0, "p99_ms": 99.0, "p999_ms": 99.9}
CLIENT_PROFILE = {
    "name": "low-latency",
    "producer_linger_ms": 1,
    "consumer_fetch_min_bytes": 1,
    "consumer_fetch_wait_max_ms": 5,
}


def run_latency(session: Session) -> list[dict[str, Any]]:
    rows = []
    for guarantee in session.options.latency_guarantees:
        for rate in session.options.rates:
            session.progress(f"latency: {rate:,}/s, {guarantee}")
            rows.append(measure_point(session, rate, guarantee))
    return rows


def measure_point(session: Session, rate: int, guarantee: str) -> dict[str, Any]:
    workspace = session.workspace("latency", guarantee=guarantee)
    # The detector runs as `detect --low-latency` does (its detector loop's clients only); the
    # generator's producer uses the profile too (the reader always does).
    settings = workspace.settings
    producers = settings.with_overrides(kafka={"low_latency": True})
    try:
        with Drive(settings, _participant(settings), session.servers) as drive:
            ready_ms = _await_ready(session, producers, drive)
            generator, lag = _load(session, producers, drive, rate)
            measured = drive.finish()
        return _figures(session, rate, guarantee, ready_ms, measured, generator, lag, drive)
    finally:
        workspace.cleanup()


def _participant(settings: Settings) -> Participant:
    output = settings.kafka.topic_prefix + "fraud-scores"
    return Participant("detector", detector_target, (settings, True), output)


def _await_ready(session: Session, settings: Settings, drive: Drive) -> float:
    """Produce the probe and wait for its decisions; returns the wall time (ms) it was ready."""
    preload(settings, PROBE, session.options.users, session.options.seed + 1)
    drive.until_outputs(PROBE, 180.0)
    return time.time() * 1000


def _load(
    session: Session, settings: Settings, drive: Drive, rate: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Run the generator to its end and wait until every decision is visible."""
    options = session.options
    seconds = options.warmup_s + options.duration_s
    lag = LagSampler(settings, settings.kafka.topic_prefix + "transactions")
    with Children("generator") as generator:
        pid = generator.start(
            generator_target, settings, options.users, options.seed, float(rate), seconds
        )
        drive.sampler.watch("generator", [pid])
        lag.start()
        deadline = time.monotonic() + seconds + 120.0
        while not generator.results and time.monotonic() < deadline:
            generator.poll(0.05)
            drive.pump(0.0)
        result = generator.finish()
    if 0 not in result:
        lag.stop()
        raise BenchTimeout(f"the generator did not finish its {seconds:g} s run in time")
    sent = result[0]
    drive.until_outputs(PROBE + sent["delivered"], 60.0 + sent["delivered"] / 1000)
    return sent, lag.stop()


def latencies(measured: Measured, ready_ms: float, warmup_s: float) -> np.ndarray:
    """Milliseconds from Kafka timestamp to visible decision, warm-up and probe left out."""
    produced = np.frombuffer(measured.seen.produced_ms, dtype=np.int64)
    seen = np.frombuffer(measured.seen.seen_ms, dtype=np.float64)
    loaded = produced[produced > ready_ms]
    if not len(loaded):
        return np.empty(0)
    keep = produced >= loaded.min() + warmup_s * 1000
    return seen[keep] - produced[keep]


def _figures(
    session: Session,
    rate: int,
    guarantee: str,
    ready_ms: float,
    measured: Measured,
    generator: dict[str, Any],
    lag: dict[str, Any],
    drive: Drive,
) -> dict[str, Any]:
    values = latencies(measured, ready_ms, session.options.warmup_s)
    row: dict[str, Any] = {"rate": rate, "guarantee": guarantee}
    row.update(percentiles(values))
    window = (ready_ms / 1000, measured.window_end)
    cpu = drive.sampler.used(*window)
    row.update(
        {
            "measured": len(values),
            "sent": generator["delivered"],
            "achieved_rate": generator["rate"],
            "decisions_visible": measured.seen.total - PROBE,
            "duration_s": session.options.duration_s,
            "warmup_s": session.options.warmup_s,
            **lag,
            "detector_cpu_share": round(
                cpu.get("detector", 0.0) / max(window[1] - window[0], 1e-9), 3
            ),
            "cpu_s": cpu,
            "batches": batch_figures(measured.summaries),
            "client_profile": CLIENT_PROFILE["name"],
        }
    )
    return row


def percentiles(values: np.ndarray) -> dict[str, float | None]:
    if not len(values):
        return {name: None for name in [*PERCENTILES, "mean_ms", "max_ms"]}
    points = np.percentile(values, list(PERCENTILES.values()))
    out: dict[str, float | None] = {
        name: round(float(v), 2) for name, v in zip(PERCENTILES, points, strict=True)
    }
    out["mean_ms"] = round(float(values.mean()), 2)
    out["max_ms"] = round(float(values.max()), 2)
    return out
