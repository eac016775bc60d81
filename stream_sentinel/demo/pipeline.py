"""The running system: generator, detector (+ label feedback) and alert processor, one thread each.

Each component runs its production loop — :class:`~stream_sentinel.generator.run.GenerationRun`,
:meth:`DetectorProcess.run <stream_sentinel.detector.runner.DetectorProcess.run>` (detector and
feedback consumers, exactly-once by default), :class:`~stream_sentinel.alerts.runner.AlertRun` —
over the same backends, so records cross a real broker interface (in-process or Kafka) and state
lives in a real store (in-process or Redis). The demo only watches: a sink wrapper notes ground
truth, the detector's ``on_batch`` hook notes verdicts.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from stream_sentinel.alerts.processor import AlertWorker
from stream_sentinel.alerts.runner import AlertRun
from stream_sentinel.alerts.runner import RunLimits as AlertLimits
from stream_sentinel.clients.backends import Backends
from stream_sentinel.clock import SYSTEM_CLOCK, Clock
from stream_sentinel.demo.observer import DemoObserver, TruthSink
from stream_sentinel.demo.scenario import DemoScenario
from stream_sentinel.detector.models import ModelSource
from stream_sentinel.detector.runner import DetectorProcess, RunOptions
from stream_sentinel.generator import Simulator
from stream_sentinel.generator.kafka_sink import BrokerSink
from stream_sentinel.generator.run import GenerationRun, RunLimits, RunOutcome
from stream_sentinel.generator.timing import TokenBucket
from stream_sentinel.scoring.serving import ServingModel
from stream_sentinel.transport.base import Consumer
from stream_sentinel.wire.serde import Serde

log = logging.getLogger(__name__)
JOIN_TIMEOUT_S = 30.0
POLL_S = 0.05


@dataclass(frozen=True, slots=True)
class Progress:
    """How far the pipeline has got behind the generator (for the drain)."""

    undecided: int
    alerts_pending: int
    labels_pending: int

    @property
    def caught_up(self) -> bool:
        return not (self.undecided or self.alerts_pending or self.labels_pending)


class _Thread(threading.Thread):
    """A daemon thread that keeps the exception its target raised."""

    def __init__(self, name: str, target: Callable[[], object]) -> None:
        super().__init__(name=name, daemon=True)
        self._run_target = target
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self._run_target()
        except BaseException as exc:  # handed to the main thread, which reports it
            log.debug("%s failed", self.name, exc_info=True)
            self.error = exc


class DemoPipeline:
    """Start, watch, drain and stop the three components of a demo run."""

    def __init__(
        self,
        scenario: DemoScenario,
        backends: Backends,
        serde: Serde,
        model: ServingModel,
        *,
        rate: float,
        duration_s: float,
        seed: int,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.settings = settings = scenario.settings
        self.backends = backends
        self.clock = clock
        self.simulator = Simulator(scenario.simulation, seed)
        self.observer = DemoObserver(self.simulator.id_prefix, clock)
        models = ModelSource(None)
        models.swap(model)
        self.detector = DetectorProcess(settings, backends, serde, clock=clock, models=models)
        self.detector.detector.handler.on_batch = self.observer.on_batch
        self.alerts = AlertWorker(settings, backends, serde, clock=clock)
        self._stop = threading.Event()
        self._stop_feeding = threading.Event()
        sink = TruthSink(
            BrokerSink(backends.broker, serde, self.simulator.population, self.simulator.id_prefix),
            self.observer,
        )
        bucket = TokenBucket(rate, burst=rate, clock=clock)
        self.feed = GenerationRun(
            self.simulator,
            sink,
            bucket,
            clock,
            self._sleep,
            RunLimits(duration_s=duration_s),
            on_progress=self._after_batch,
        )
        self.outcome: RunOutcome | None = None
        self._threads = {
            "detector": _Thread("demo-detector", self._run_detector),
            "alerts": _Thread("demo-alerts", self._run_alerts),
        }
        self._feeder = _Thread("demo-generator", self._run_feed)

    # -- the components' threads --------------------------------------------------------------
    def _run_detector(self) -> None:
        self.detector.run(self._stop.is_set, RunOptions())

    def _run_alerts(self) -> None:
        AlertRun(self.alerts, AlertLimits()).run(self._stop.is_set)

    def _run_feed(self) -> None:
        self.outcome = self.feed.run()

    def _sleep(self, seconds: float) -> None:
        """The generator's pause between batches; a stop request ends the run like Ctrl-C."""
        if self._stop_feeding.wait(seconds):
            raise KeyboardInterrupt

    def _after_batch(self, progress: object) -> None:
        """After each batch (a busy generator may not pause at all): stop when asked."""
        if self._stop_feeding.is_set():
            raise KeyboardInterrupt

    # -- control ------------------------------------------------------------------------------
    def start(self, ready_timeout_s: float = JOIN_TIMEOUT_S) -> None:
        """Start the consumers, wait until they own their partitions, then start generating
        (so latency measures the pipeline, not the first consumer-group join)."""
        for thread in self._threads.values():
            thread.start()
        deadline = time.monotonic() + ready_timeout_s
        while not self._consumers_ready() and time.monotonic() < deadline:
            self.raise_failure()
            time.sleep(POLL_S)
        self._feeder.start()

    def _consumers_ready(self) -> bool:
        loops = (self.detector.detector.loop, self.detector.feedback, self.alerts.loop)
        consumers: list[Consumer | None] = [loop.consumer for loop in loops]
        return all(c is not None and c.assignment() for c in consumers)

    @property
    def generating(self) -> bool:
        return self._feeder.is_alive()

    def stop_generating(self) -> None:
        self._stop_feeding.set()

    def progress(self) -> Progress:
        observer = self.observer
        snapshot_sent = observer.sent
        handled = observer.decided + observer.dead_letters
        labels = sum(self.detector.feedback_handler.labels.values())
        return Progress(
            undecided=max(snapshot_sent - handled, 0),
            alerts_pending=max(observer.alerts_raised - self.alerts.loop.stats.records, 0),
            labels_pending=max(observer.labels_sent - labels, 0),
        )

    def drain(self, timeout_s: float, on_wait: Callable[[], None] | None = None) -> Progress:
        """After the generator stopped: wait until every transaction is decided, every alert
        acted on and every label applied (or the timeout); returns what is still pending."""
        self._feeder.join(JOIN_TIMEOUT_S)
        deadline = time.monotonic() + timeout_s
        progress = self.progress()
        while not progress.caught_up and time.monotonic() < deadline:
            self.raise_failure()
            if on_wait is not None:
                on_wait()
            time.sleep(POLL_S)
            progress = self.progress()
        return progress

    def stop(self) -> None:
        """Stop every component (each finishes its batch in hand and commits) and wait."""
        self._stop_feeding.set()
        self._feeder.join(JOIN_TIMEOUT_S)
        self._stop.set()
        for thread in self._threads.values():
            if thread.is_alive():
                thread.join(JOIN_TIMEOUT_S)

    def raise_failure(self) -> None:
        """Re-raise, on the caller's thread, the first error a component died of."""
        for thread in (*self._threads.values(), self._feeder):
            if thread.error is not None and not isinstance(thread.error, KeyboardInterrupt):
                raise thread.error

    @property
    def failed(self) -> bool:
        return any(t.error is not None for t in (*self._threads.values(), self._feeder))

    def labels_applied(self) -> dict[str, int]:
        return dict(self.detector.feedback_handler.labels)
