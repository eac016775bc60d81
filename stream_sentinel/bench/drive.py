"""Driving one participant (ours, the ceiling or the naive detector) and timing what it outputs.

The participant runs in child processes; the read_committed reader and the CPU sampler run in
this process. Throughput is measured between the first and the last output the reader saw,
counting only the outputs that became visible after the first fetch (those of the first fetch
were done before the window opened), so start-up, group join and model load stay outside.
With several workers the window opens only once every worker holds partitions, so the
rebalance that spreads them is outside too.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any

from stream_sentinel.bench.children import Children, Target
from stream_sentinel.bench.cpu import CpuSampler
from stream_sentinel.bench.machine import Servers
from stream_sentinel.bench.reader import OutputReader, ScoreDecoder, Visibility
from stream_sentinel.bench.targets import ASSIGNED
from stream_sentinel.clients.backends import RealClients
from stream_sentinel.config import Settings
from stream_sentinel.errors import SentinelError
from stream_sentinel.transport.topics import FRAUD_SCORES
from stream_sentinel.wire.serde import Serde

PARTITIONS = 12


class BenchTimeout(SentinelError):
    """A participant did not finish within the time the benchmark allows it."""


@dataclass(frozen=True, slots=True)
class Participant:
    name: str  # also the CPU group of its processes
    target: Target
    args: tuple[Any, ...]
    output_topic: str
    workers: int = 1
    scores: bool = True  # outputs are FraudScore records (parsed) or opaque (counted)


@dataclass
class Measured:
    """One participant's run, as the reader and the sampler saw it."""

    name: str
    seen: Visibility
    window_start: float
    window_end: float
    window_outputs: int
    cpu: dict[str, float]
    started: float
    summaries: list[dict[str, Any]] = field(default_factory=list)

    @property
    def window_s(self) -> float:
        return max(self.window_end - self.window_start, 0.0)

    @property
    def tps(self) -> float:
        """Outputs per second in the window (whole run from process start when it is empty)."""
        if self.window_outputs > 0 and self.window_s > 0:
            return self.window_outputs / self.window_s
        wall = (self.seen.last_s or self.started) - self.started
        return self.seen.total / wall if wall > 0 else 0.0

    @property
    def basis(self) -> str:
        """What ``tps`` was computed over: the steady window, or (too few fetches) the wall."""
        return "window" if self.window_outputs > 0 and self.window_s > 0 else "wall"

    @property
    def wall_s(self) -> float:
        """From starting the processes to the last output visible."""
        return max((self.seen.last_s or self.started) - self.started, 0.0)

    def cpu_per_1k(self, group: str) -> float | None:
        outputs = self.window_outputs if self.window_s > 0 else self.seen.total
        if group not in self.cpu or outputs <= 0:
            return None
        return round(self.cpu[group] / (outputs / 1000), 4)


def score_decoder(settings: Settings) -> ScoreDecoder:
    decoder = Serde.from_settings(settings, RealClients(settings).registry()).decoder(FRAUD_SCORES)

    def decode(value: bytes) -> tuple[str, int]:
        record = decoder.decode(value)
        return record["transaction_id"], int(record["produced_time"])

    return decode


class Drive:
    """Start the reader and sampler, then the participant; stop all three when done."""

    def __init__(self, settings: Settings, participant: Participant, servers: Servers) -> None:
        self.settings, self.participant, self.servers = settings, participant, servers
        scores = score_decoder(settings) if participant.scores else None
        avro = FRAUD_SCORES not in settings.registry.json_topics
        broker = RealClients(settings).broker()
        self.reader = OutputReader(broker, participant.output_topic, PARTITIONS, scores, avro)
        self.sampler = CpuSampler()
        self.children = Children(participant.name)
        self.assigned: dict[int, int] = {}
        self.all_assigned_at: float | None = None
        self.started = 0.0

    def __enter__(self) -> Drive:
        self.reader.start()
        for group, pid in (("kafka", self.servers.kafka_pid), ("redis", self.servers.redis_pid)):
            if pid is not None:
                self.sampler.watch(group, [pid])
        self.sampler.watch("bench_reader", [os.getpid()])
        self.started = time.time()
        for _ in range(self.participant.workers):
            pid = self.children.start(self.participant.target, *self.participant.args)
            self.sampler.watch(self.participant.name, [pid])
        self.sampler.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.children.close()
        self.sampler.stop()
        self.reader.close()

    # -- waiting ----------------------------------------------------------------------------
    def until_outputs(self, expected: int, timeout_s: float) -> None:
        """Wait until ``expected`` outputs are visible (BenchTimeout after ``timeout_s``)."""
        deadline = time.monotonic() + timeout_s
        while self.reader.seen.total < expected:
            if time.monotonic() > deadline:
                raise BenchTimeout(
                    f"{self.participant.name}: only {self.reader.seen.total:,} of {expected:,} "
                    f"outputs became visible within {timeout_s:.0f} s"
                )
            self.pump(0.05)

    def until_done(self, timeout_s: float) -> None:
        """Wait until every child has returned its result (they bound themselves)."""
        deadline = time.monotonic() + timeout_s
        while len(self.children.results) < self.participant.workers:
            if time.monotonic() > deadline:
                raise BenchTimeout(f"{self.participant.name} did not stop within {timeout_s:.0f} s")
            self.pump(0.05)

    def pump(self, timeout_s: float) -> None:
        """Take the children's messages (raising if one failed) and note assignments."""
        for kind, slot, payload in self.children.poll(timeout_s):
            if kind == ASSIGNED:
                self._assigned(slot, payload)
        if self.reader.error is not None:
            self.reader.stop()  # raises ReaderError

    def _assigned(self, slot: int, payload: tuple[float, int]) -> None:
        at, count = payload
        self.assigned[slot] = count
        counts = [self.assigned.get(s, 0) for s in range(self.participant.workers)]
        if self.all_assigned_at is None and all(counts) and sum(counts) == PARTITIONS:
            self.all_assigned_at = at

    # -- the result -------------------------------------------------------------------------
    def finish(self, settle_s: float = 0.3) -> Measured:
        """Stop the participant and the reader; cut the measurement window."""
        time.sleep(settle_s)  # outputs committed last are visible to the reader by now
        summaries = self.children.finish()
        self.sampler.stop()
        seen = self.reader.stop()
        start, end = self._window(seen)
        return Measured(
            name=self.participant.name,
            seen=seen,
            window_start=start,
            window_end=end,
            window_outputs=seen.total - seen.seen_by(start),
            cpu=self.sampler.used(start, end),
            started=self.started,
            summaries=[summaries[s] for s in sorted(summaries)],
        )

    def _window(self, seen: Visibility) -> tuple[float, float]:
        first, last = seen.first_s or self.started, seen.last_s or self.started
        if self.participant.workers > 1 and self.all_assigned_at is not None:
            later = [t for t in seen.fetch_times if t >= self.all_assigned_at]
            first = later[0] if later else last
        return first, last
