"""Wiring one `generate` run: request -> simulator, sink, bucket -> run -> summary.

The only place where the generator meets settings, brokers and the console. Failures that the
user can fix (unwritable path, unreachable broker or registry) surface before a record is made.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from rich.console import Console

from stream_sentinel.clock import SYSTEM_CLOCK, Clock
from stream_sentinel.config import Settings
from stream_sentinel.generator.file_sink import FileSink
from stream_sentinel.generator.report import ProgressLine, summary_lines
from stream_sentinel.generator.request import GenerateRequest
from stream_sentinel.generator.run import GenerationRun, RunLimits, RunOutcome
from stream_sentinel.generator.simulator import Simulator, transaction_id_prefix
from stream_sentinel.generator.sinks import Sink
from stream_sentinel.generator.timing import TokenBucket


@dataclass
class Launch:
    """One run's collaborators; tests swap the clock, sleep and consoles."""

    settings: Callable[[], Settings]  # loaded only when a broker is needed
    out: Console
    err: Console
    clock: Clock = SYSTEM_CLOCK
    sleep: Callable[[float], None] = time.sleep

    def run(self, request: GenerateRequest) -> RunOutcome:
        request.validate()
        plan = request.plan(self.clock.now_ms())
        prefix = transaction_id_prefix(request.seed)
        file_sink = FileSink(request.output, prefix) if request.output else None
        if file_sink is None:
            self._require_kafka()
        try:
            simulator = Simulator(request.simulation_config(plan), request.seed)
            sink: Sink = file_sink or self._broker_sink(simulator)
        except BaseException:
            if file_sink is not None:
                file_sink.abort()
            raise
        rate = request.effective_rate()
        self.err.print(
            f"generating to {sink.destination}: {simulator.config.users:,} users, "
            f"rate {'max' if rate == 0 else f'{rate:,.0f}/s'}, scenario {request.scenario}, "
            f"seed {request.seed}"
            + (f", time scale x{plan.time_scale:,.0f}" if plan.time_scale else ""),
            highlight=False,
        )
        return self._stream(simulator, sink, request, rate)

    def _stream(
        self, simulator: Simulator, sink: Sink, request: GenerateRequest, rate: float
    ) -> RunOutcome:
        progress = ProgressLine(self.err, self.clock)
        # A second's worth of burst: a brief stall (GC, a slow flush) is caught up, not lost.
        bucket = TokenBucket(rate, burst=max(rate, 1.0), clock=self.clock)
        limits = RunLimits(count=request.count, duration_s=request.duration_s())
        run = GenerationRun(
            simulator, sink, bucket, self.clock, self.sleep, limits, progress.update
        )
        try:
            outcome = run.run()
        finally:
            progress.stop()
        for line in summary_lines(simulator, outcome, sink):
            self.out.print(line, highlight=False, soft_wrap=True)
        return outcome

    def _require_kafka(self) -> None:
        from stream_sentinel.ops.preflight import require_services

        require_services(self.settings(), "or write a file with --output", redis=False)

    def _broker_sink(self, simulator: Simulator) -> Sink:
        from stream_sentinel.clients.backends import RealClients
        from stream_sentinel.generator.kafka_sink import BrokerSink
        from stream_sentinel.wire.serde import Serde

        settings = self.settings()
        clients = RealClients(settings)
        serde = Serde.from_settings(settings, clients.registry())
        return BrokerSink(clients.broker(), serde, simulator.population, simulator.id_prefix)
