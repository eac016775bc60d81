"""Running detector processes: the detector and feedback loops, heartbeats, idle exit, workers.

One process runs one detector worker (the consumer group member that scores transactions) and
one feedback worker (labels -> merchant state), interleaved on one thread: the feedback loop is
polled without waiting between detector batches. ``--workers N`` starts N such processes in the
same consumer groups; Kafka spreads the partitions over them.
"""

from __future__ import annotations

import logging
import multiprocessing
import queue
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from stream_sentinel.clients.backends import Backends, real_backends
from stream_sentinel.clients.registry import connect_registry
from stream_sentinel.clock import SYSTEM_CLOCK, Clock
from stream_sentinel.config import Settings
from stream_sentinel.detector.feedback import FeedbackHandler
from stream_sentinel.detector.metrics import DetectorMetrics
from stream_sentinel.detector.models import ModelSource, registry_models
from stream_sentinel.detector.shadow import ChallengerModels, registry_challenger
from stream_sentinel.detector.worker import DetectorWorker
from stream_sentinel.errors import SentinelError
from stream_sentinel.stream.loop import StreamLoop
from stream_sentinel.stream.running import (
    HEARTBEAT_S,
    UNASSIGNED_GRACE_S,
    BrokerOutage,
    consumer_caught_up,
    consumer_lag,
    publish_heartbeat,
)
from stream_sentinel.stream.watchdog import Watchdog, shared_watchdog
from stream_sentinel.transport.kafka import probe_kafka
from stream_sentinel.transport.topics import Topics
from stream_sentinel.wire.serde import Serde

log = logging.getLogger(__name__)


class WorkerFailed(SentinelError):
    """A detector worker process ended without finishing its run."""


@dataclass
class RunOptions:
    until_idle_s: float | None = None
    max_records: int | None = None
    metrics_port: int | None = None
    low_latency: bool | None = None


class DetectorProcess:
    """The detector + feedback loops of one process, with heartbeats and an idle exit."""

    def __init__(
        self,
        settings: Settings,
        backends: Backends,
        serde: Serde,
        *,
        slot: int = 0,
        clock: Clock = SYSTEM_CLOCK,
        models: ModelSource | None = None,
        low_latency: bool | None = None,
        watchdog: Watchdog | None = None,
    ) -> None:
        self.settings = settings
        self.backends = backends
        self.slot = slot
        self.clock = clock
        self.metrics = DetectorMetrics()
        # a registry-served detector also serves a running experiment's challenger
        self.challenger: ChallengerModels | None = None
        if models is None:
            models = registry_models(settings, backends, serde, clock, self.metrics)
            self.challenger = registry_challenger(
                settings, backends, models, clock=clock, metrics=self.metrics
            )
        self.models = models
        self.detector = DetectorWorker(
            settings,
            backends,
            serde,
            slot=slot,
            clock=clock,
            models=models,
            metrics=self.metrics,
            low_latency=low_latency,
            watchdog=watchdog,
            challenger=self.challenger,
        )
        topics = Topics.from_settings(settings)
        self.feedback_handler = FeedbackHandler(serde, topics, backends.state, clock.now_ms)
        self.feedback = _feedback_loop(
            self.feedback_handler, settings, backends, slot, clock, watchdog
        )
        self.worker_name = f"worker-{slot}"
        self.outage: BrokerOutage | None = None  # set for a real broker (build_process)
        self.on_heartbeat: Callable[[dict[str, Any]], None] | None = None
        self._last_heartbeat = 0.0
        self._started = time.monotonic()
        self._checked_idle = 0.0
        self._was_caught_up = False

    def start(self) -> None:
        self.detector.start()
        self.feedback_handler.letter_budget = self.detector.handler.letter_budget
        self.feedback.start()

    def close(self) -> None:
        try:
            self.detector.close()  # settles its last state write, which may fail
        finally:
            try:
                self.feedback.close()
            finally:
                self.models.close()
                if self.challenger is not None:
                    self.challenger.close()

    def step(self, limit: int | None = None) -> int:
        """One detector batch (waiting up to the poll timeout) and one non-blocking label batch."""
        count = self.detector.poll(limit)
        count += self.feedback.poll()
        if self.outage is not None:
            self.outage.busy() if count else self.outage.idle()
        if time.monotonic() - self._last_heartbeat >= HEARTBEAT_S:
            self.heartbeat()
        return count

    def run(
        self,
        should_stop: Callable[[], bool],
        options: RunOptions,
        progress: Callable[[dict[str, Any]], None] | None = None,
    ) -> dict[str, Any]:
        """Process until told to stop, idle for ``until_idle_s`` or ``max_records`` reached."""
        self.on_heartbeat = progress
        self.start()
        idle_since: float | None = None
        try:
            while not should_stop():
                remaining = None
                if options.max_records:
                    remaining = options.max_records - self.detector.loop.stats.records
                if self.step(remaining):
                    idle_since = None
                elif options.until_idle_s is not None and self.caught_up():
                    idle_since = idle_since or time.monotonic()
                    if time.monotonic() - idle_since >= options.until_idle_s:
                        break
                else:
                    idle_since = None
                if options.max_records and self.detector.loop.stats.records >= options.max_records:
                    break
        except BaseException as exc:
            self._stop_after(exc)
            raise
        try:
            self.heartbeat()
        finally:
            self.close()
        return self.summary()

    def _stop_after(self, error: BaseException) -> None:
        """Close after ``error`` ended the run. What fails now (the same outage, usually) is
        logged, not raised: the error that ended the run is the one the user must see."""
        for stop_step in (self.heartbeat, self.close):
            try:
                stop_step()
            except Exception as exc:
                log.warning("while stopping after %s: %s", type(error).__name__, exc)

    def caught_up(self) -> bool:
        """True when every assigned input partition has been read to its end (checked at most
        twice a second, from the high watermarks the fetches report)."""
        now = time.monotonic()
        if now - self._checked_idle < 0.5:
            return self._was_caught_up
        self._checked_idle = now
        consumers = [c for c in (self.detector.loop.consumer, self.feedback.consumer) if c]
        if not any(c.assignment() for c in consumers):
            self._was_caught_up = now - self._started >= UNASSIGNED_GRACE_S
        else:
            self._was_caught_up = all(consumer_caught_up(c) for c in consumers)
        return self._was_caught_up

    def heartbeat(self) -> None:
        """Publish this worker's figures for `stream-sentinel status` (a key with a TTL)."""
        self._last_heartbeat = time.monotonic()
        consumer = self.detector.loop.consumer
        if consumer is not None:
            for partition, lag in consumer_lag(consumer).items():
                self.metrics.lag.labels(str(partition)).set(lag)
        summary = self.summary()
        group = self.settings.detector.group_id
        publish_heartbeat(self.backends.state, group, self.worker_name, summary)
        if self.on_heartbeat is not None:
            self.on_heartbeat(summary)

    def summary(self) -> dict[str, Any]:
        summary = self.detector.summary()
        summary["labels"] = dict(self.feedback_handler.labels)
        summary["worker"] = self.worker_name
        summary["elapsed_s"] = round(time.monotonic() - self._started, 3)
        summary["rate"] = summary["records"] / max(summary["elapsed_s"], 1e-9)
        return summary


def _feedback_loop(
    handler: FeedbackHandler,
    settings: Settings,
    backends: Backends,
    slot: int,
    clock: Clock,
    watchdog: Watchdog | None,
) -> StreamLoop:
    """The labels' consumer group: exactly-once, never waiting (it shares the detector's turn)."""
    topics = Topics.from_settings(settings)
    return StreamLoop(
        backends.broker,
        backends.state,
        handler,
        group_id=settings.detector.feedback_group_id,
        topic=topics.fraud_feedback,
        guarantee="exactly-once",
        # <group>-<slot>, as the scoring loop's: no other service's transactional ids start so
        transactional_id=f"{topics.prefix}{settings.detector.feedback_group_id}-{slot}",
        max_batch=settings.detector.max_batch,
        poll_timeout_s=0.0,
        clock=clock,
        watchdog=watchdog,
    )


def build_process(
    settings: Settings, slot: int, low_latency: bool | None = None
) -> DetectorProcess:
    backends = real_backends(settings)
    serde = Serde.from_settings(settings, connect_registry(settings.registry))
    process = DetectorProcess(
        settings,
        backends,
        serde,
        slot=slot,
        low_latency=low_latency,
        watchdog=shared_watchdog(settings.detector.stall_limit_s),
    )
    process.outage = BrokerOutage(
        lambda: probe_kafka(settings.kafka), settings.kafka.outage_limit_s
    )
    return process


def _child_main(
    settings: Settings, slot: int, options: RunOptions, results: Any, stop: Any
) -> None:
    """Entry point of a worker process (multiprocessing 'spawn')."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides; it sets ``stop``
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    logging.basicConfig(level=logging.WARNING, format=f"[worker-{slot}] %(levelname)s %(message)s")

    def report(summary: dict[str, Any]) -> None:
        results.put(("progress", slot, summary))

    try:
        process = build_process(settings, slot, options.low_latency)
        if options.metrics_port is not None:
            process.metrics.serve(options.metrics_port + slot if options.metrics_port else 0)
        summary = process.run(stop.is_set, options, report)
    except SentinelError as exc:  # the parent reports it and exits non-zero
        results.put(("failed", slot, exc))
        sys.exit(1)
    results.put(("done", slot, summary))


def run_workers(
    settings: Settings,
    workers: int,
    options: RunOptions,
    stop: threading.Event,
    on_progress: Callable[[dict[str, Any]], None],
    first_slot: int = 0,
) -> dict[str, Any]:
    """Run ``workers`` detector processes until they finish; returns the combined summary."""
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    child_stop = context.Event()
    children = [
        context.Process(
            target=_child_main,
            args=(settings, slot, options, results, child_stop),
            name=f"detector-{slot}",
        )
        for slot in range(first_slot, first_slot + workers)
    ]
    for child in children:
        child.start()
    latest: dict[int, dict[str, Any]] = {}
    done: dict[int, dict[str, Any]] = {}
    failed: dict[int, SentinelError] = {}
    while len(done) + len(failed) < workers:
        if stop.is_set() or failed or _died_silently(children, first_slot, done, results):
            child_stop.set()  # one worker failing (or killed) stops the others cleanly
        try:
            kind, slot, payload = results.get(timeout=0.5)
        except queue.Empty:
            if not any(c.is_alive() for c in children) and results.empty():
                break
            continue
        if kind == "failed":
            failed[slot] = payload
            continue
        latest[slot] = payload
        if kind == "done":
            done[slot] = payload
        on_progress(combine(list(latest.values())))
    for child in children:
        child.join(timeout=30)
    _raise_for_failed(children, first_slot, done, failed)
    return combine(list(done.values()) or list(latest.values()))


def _died_silently(
    children: list[Any], first_slot: int, done: dict[int, dict[str, Any]], results: Any
) -> bool:
    """A worker ended without a word (killed, or ended by the watchdog) while others run."""
    return results.empty() and any(
        child.exitcode is not None and slot not in done
        for slot, child in enumerate(children, start=first_slot)
    )


def _raise_for_failed(
    children: list[Any],
    first_slot: int,
    done: dict[int, dict[str, Any]],
    failed: Mapping[int, SentinelError],
) -> None:
    """The first worker's error, or WorkerFailed for one that died without saying why: a
    supervisor must see a non-zero exit whenever a worker did not finish its run."""
    if failed:
        raise failed[min(failed)]
    for slot, child in enumerate(children, start=first_slot):
        if slot not in done:
            raise WorkerFailed(f"detector worker {slot} {_ending(child.exitcode)}")


def _ending(exitcode: int | None) -> str:
    if exitcode is None:
        return "did not stop within 30 s of the others"
    if exitcode < 0:
        return f"was killed by signal {-exitcode}"
    return f"exited with status {exitcode} before finishing (see its output above)"


def combine(summaries: list[dict[str, Any]]) -> dict[str, Any]:
    """One summary for several workers (counts add up; the rate is the sum of the rates)."""
    total: dict[str, Any] = {"workers": len(summaries), "records": 0, "rate": 0.0}
    for name in ("decisions", "alerts", "dead_letters", "labels"):
        counter: Counter[str] = Counter()
        for summary in summaries:
            counter.update(summary.get(name, {}))
        total[name] = dict(counter)
    for summary in summaries:
        total["records"] += summary.get("records", 0)
        total["rate"] += summary.get("rate", 0.0)
    total["aborted_transactions"] = sum(s.get("aborted_transactions", 0) for s in summaries)
    total["repaired_records"] = sum(s.get("repaired_records", 0) for s in summaries)
    versions = {s.get("model_version") for s in summaries}
    total["model_version"] = versions.pop() if len(versions) == 1 else sorted(map(str, versions))
    return total
