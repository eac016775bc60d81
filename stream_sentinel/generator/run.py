"""One generation run: simulator -> token bucket -> sink, until a limit, the end of the simulated
period, or Ctrl-C; then flush and summarise.

Wall time comes from an injected clock and ``sleep``, so a test drives a whole run with a
ManualClock and no real waiting.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from stream_sentinel.clock import Clock
from stream_sentinel.generator.simulator import Simulator
from stream_sentinel.generator.sinks import DeliveryStats, Sink
from stream_sentinel.generator.timing import TokenBucket

MAX_BATCH = 16_384
BATCHES_PER_SECOND = 20  # at a target rate, batches of 50 ms worth of records


@dataclass(frozen=True, slots=True)
class RunLimits:
    count: int | None = None
    duration_s: float | None = None


@dataclass(slots=True)
class Progress:
    """A snapshot for the progress line."""

    sent: int
    fraud: int
    labels: int
    delivery_errors: int
    elapsed_s: float
    simulated_ms: int
    limits: RunLimits

    @property
    def rate(self) -> float:
        return self.sent / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def eta_s(self) -> float | None:
        if self.limits.count is not None and self.rate > 0:
            return max(self.limits.count - self.sent, 0) / self.rate
        if self.limits.duration_s is not None:
            return max(self.limits.duration_s - self.elapsed_s, 0.0)
        return None


@dataclass(slots=True)
class RunOutcome:
    sent: int
    elapsed_s: float
    stop_reason: str
    delivery: DeliveryStats
    interrupted: bool = False
    labels_sent: int = 0
    notes: list[str] = field(default_factory=list)


class GenerationRun:
    def __init__(
        self,
        simulator: Simulator,
        sink: Sink,
        bucket: TokenBucket,
        clock: Clock,
        sleep: Callable[[float], None],
        limits: RunLimits = RunLimits(),
        on_progress: Callable[[Progress], None] | None = None,
    ) -> None:
        self.simulator, self.sink, self.bucket = simulator, sink, bucket
        self.limits = limits
        self._clock, self._sleep = clock, sleep
        self._on_progress = on_progress
        self._sent = self._labels = 0
        self._started = clock.monotonic()

    def run(self) -> RunOutcome:
        self._started = self._clock.monotonic()
        interrupted, reason = False, "limit"
        try:
            reason = self._loop()
        except KeyboardInterrupt:
            interrupted, reason = True, "interrupted (Ctrl-C)"
        except BaseException:
            self.sink.abort()
            raise
        self.sink.close()
        return RunOutcome(
            sent=self._sent,
            elapsed_s=self._elapsed(),
            stop_reason=reason,
            delivery=self.sink.stats,
            interrupted=interrupted,
            labels_sent=self._labels,
        )

    def _loop(self) -> str:
        while True:
            stop = self._stop_reason()
            if stop is not None:
                return stop
            wanted = self._batch_size()
            # Whole batches only: granting what accrued while the last one was sent would
            # turn a paced run into a busy loop of tiny batches (each with its fixed costs).
            granted = self.bucket.take(wanted, at_least=wanted)
            if granted == 0:
                self._sleep(min(self.bucket.wait_s(wanted), self._time_left()))
                continue
            self._emit(granted)
            self._report()

    def _emit(self, count: int) -> None:
        batch = self.simulator.next_batch(count)
        self.sink.write(batch)
        labels = self.simulator.labels_due(self.simulator.now_ms)
        self.sink.write_labels(labels)
        self.sink.poll()
        self._sent += len(batch)
        self._labels += len(labels)

    def _stop_reason(self) -> str | None:
        if self.limits.count is not None and self._sent >= self.limits.count:
            return f"reached --count {self.limits.count:,}"
        if self.limits.duration_s is not None and self._elapsed() >= self.limits.duration_s:
            return f"reached --duration {self.limits.duration_s:g}s"
        if self.simulator.finished:
            return "reached the end of the simulated period"
        return None

    def _batch_size(self) -> int:
        size = MAX_BATCH
        if not self.bucket.unlimited:
            size = max(1, min(MAX_BATCH, int(self.bucket.rate / BATCHES_PER_SECOND)))
        if self.limits.count is not None:
            size = min(size, self.limits.count - self._sent)
        return size

    def _time_left(self) -> float:
        if self.limits.duration_s is None:
            return float("inf")
        return max(self.limits.duration_s - self._elapsed(), 0.0)

    def _elapsed(self) -> float:
        return self._clock.monotonic() - self._started

    def _report(self) -> None:
        if self._on_progress is None:
            return
        stats = self.simulator.stats
        self._on_progress(
            Progress(
                sent=self._sent,
                fraud=stats.fraud,
                labels=self._labels,
                delivery_errors=self.sink.stats.errors,
                elapsed_s=self._elapsed(),
                simulated_ms=self.simulator.now_ms,
                limits=self.limits,
            )
        )
