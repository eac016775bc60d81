"""One demo run, start to finish: check, model, pipeline, live view, drain, summary, clean-up."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.live import Live

from stream_sentinel.clients.backends import Backends, ClientFactory, EmbeddedClients, RealClients
from stream_sentinel.clock import SYSTEM_CLOCK, Clock
from stream_sentinel.config import Settings
from stream_sentinel.demo import local
from stream_sentinel.demo.console import demo_console, wait_for_interrupt
from stream_sentinel.demo.enforcement import Enforcement, read_enforcement
from stream_sentinel.demo.model import DemoModel, ensure_model, serve_from_registry
from stream_sentinel.demo.options import DemoOptions
from stream_sentinel.demo.pipeline import DemoPipeline
from stream_sentinel.demo.quality import (
    false_alarms,
    flagging_rules,
    labelled_quality,
    pattern_rows,
)
from stream_sentinel.demo.report import emit, summary_renderable
from stream_sentinel.demo.scenario import DemoScenario, plan_scenario
from stream_sentinel.demo.summary import DemoSummary, RunInfo, summarize
from stream_sentinel.demo.training_view import training_progress
from stream_sentinel.demo.view import LiveState, progress_line, render
from stream_sentinel.transport.topics import Topics
from stream_sentinel.wire.serde import Serde

REFRESH_S = 0.5
PLAIN_EVERY_S = 5.0
ENFORCEMENT_EVERY_S = 1.0
DRAIN_TIMEOUT_S = 30.0
EMBEDDED_WHERE = "embedded backends (in-process Kafka-semantics log + state store)"


def run_demo(
    options: DemoOptions, settings: Settings, console: Console, clock: Clock = SYSTEM_CLOCK
) -> DemoSummary:
    """Run the demo as ``stream-sentinel demo`` does and return its summary (also printed)."""
    options.validate()
    tag = None
    if options.backend == "local":
        tag = local.run_tag(options.seed, clock.now_ms())
        settings = local.tagged_settings(settings, tag)
        local.require_stack(settings)
    model = ensure_model(settings, training_progress(console), _notice(console))
    scenario = plan_scenario(options, settings, clock.now_ms())
    clients, backends, serde = _open(scenario.settings, options.backend)
    try:
        with demo_console(options, clients, scenario.settings, console):
            pipeline = DemoPipeline(
                scenario,
                backends,
                serde,
                serve_from_registry(backends.state, model.artifact, clock),
                rate=options.rate,
                duration_s=options.duration_s,
                seed=options.seed,
                clock=clock,
            )
            summary = Watch(pipeline, _info(options, scenario, model, tag), console, clock).run()
            emit(console, summary_renderable(summary))
            if options.keep_open:
                wait_for_interrupt(console)
    finally:
        _close(backends, scenario.settings, options, console)
    return summary


def _notice(console: Console) -> Callable[[str], None]:
    def notice(message: str) -> None:
        console.print(message, highlight=False, style="bold")

    return notice


def _open(settings: Settings, backend: str) -> tuple[ClientFactory, Backends, Serde]:
    if backend == "local":
        return RealClients(settings), *local.local_pipeline(settings)
    clients = EmbeddedClients()
    topics = Topics.from_settings(settings)
    clients.admin().create_topics(topics.specs())
    serde = Serde(clients.registry(), topics, settings.registry.json_topics)
    return clients, clients.backends(), serde


def _close(backends: Backends, settings: Settings, options: DemoOptions, console: Console) -> None:
    try:
        if options.backend == "local" and not options.keep:
            removed = local.remove_run_data(backends, settings)
            console.print(
                f"removed the run's topics ({settings.kafka.topic_prefix}*) and {removed:,} "
                f"Redis keys ({settings.redis.key_namespace}:*); --keep leaves them",
                highlight=False,
                style="dim",
            )
        elif options.backend == "local":
            prefix = settings.kafka.topic_prefix
            console.print(
                f"kept the run's data: topics {prefix}*, Redis keys "
                f"{settings.redis.key_namespace}:* (e.g. SENTINEL_KAFKA_TOPIC_PREFIX={prefix} "
                "stream-sentinel tail fraud-alerts --from-beginning)",
                highlight=False,
            )
    finally:
        backends.close()


def _info(
    options: DemoOptions, scenario: DemoScenario, model: DemoModel, tag: str | None
) -> RunInfo:
    settings = scenario.settings
    where = EMBEDDED_WHERE
    if options.backend == "local":
        where = (
            f"Kafka {settings.kafka.bootstrap} + Redis {settings.redis.shown_url} + registry "
            f"{settings.registry.shown_url} (run {tag})"
        )
    auc = model.report.get("roc_auc")
    return RunInfo(
        backend=options.backend,
        where=where,
        guarantee=settings.detector.guarantee,
        model_version=model.artifact.version,
        model_auc=float(auc) if isinstance(auc, int | float) and not math.isnan(auc) else None,
        seed=options.seed,
        users=options.users,
        rate=options.rate,
        duration_s=options.duration_s,
        time_scale=scenario.time_scale,
        model_dir=_home_relative(model.directory),
        tag=tag,
    )


def _home_relative(path: Path) -> str:
    """``~/...`` for a path under the home directory (shorter, and pastes into a shell)."""
    try:
        return "~/" + str(path.relative_to(Path.home()))
    except ValueError:
        return str(path)


@dataclass
class _Enforcement:
    """The alert processor's state, re-read at most once a second."""

    value: Enforcement
    read_at: float = float("-inf")


class Watch:
    """Drives a pipeline from start to summary, showing it live (or in plain lines)."""

    def __init__(
        self, pipeline: DemoPipeline, info: RunInfo, console: Console, clock: Clock
    ) -> None:
        self.pipeline, self.info, self.console, self.clock = pipeline, info, console, clock
        self._enforcement = _Enforcement(Enforcement())
        self._started = time.monotonic()
        self._elapsed: float | None = None
        self._live: Live | None = None
        self._printed = time.monotonic()
        self._flagging = flagging_rules(pipeline.settings.detector)

    def run(self) -> DemoSummary:
        pipeline, interrupted = self.pipeline, False
        if self.console.is_terminal:
            self._live = Live(console=self.console, refresh_per_second=4, transient=True)
            self._live.start()
        try:
            if self.info.backend == "local":
                self.console.print(
                    "starting: the detector, its feedback loop and the alert processor join "
                    "their consumer groups ...",
                    highlight=False,
                )
            pipeline.start()
            self._started = time.monotonic()
            interrupted = self._while_generating()
            self._elapsed = time.monotonic() - self._started
            pipeline.drain(DRAIN_TIMEOUT_S, on_wait=lambda: self._show("draining"))
        finally:
            pipeline.stop()
            if self._live is not None:
                self._live.stop()
        pipeline.raise_failure()
        return self._summary(interrupted)

    def _while_generating(self) -> bool:
        """Show the run until the generator is done; True when Ctrl-C ended it early."""
        try:
            while self.pipeline.generating:
                self.pipeline.raise_failure()
                self._show("generating")
                time.sleep(REFRESH_S)
        except KeyboardInterrupt:
            self.pipeline.stop_generating()
            self.console.print("stopping: draining what was generated (Ctrl-C again aborts)")
            return True
        return False

    def _show(self, phase: str) -> None:
        if self._live is None and time.monotonic() - self._printed < PLAIN_EVERY_S:
            return
        state = self._state(phase)
        if self._live is not None:
            self._live.update(render(state))
        else:
            self._printed = time.monotonic()
            self.console.print(progress_line(state), highlight=False, soft_wrap=True)

    def _state(self, phase: str) -> LiveState:
        snapshot = self.pipeline.observer.snapshot()
        return LiveState(
            info=self.info,
            phase=phase,
            elapsed_s=self._elapsed or time.monotonic() - self._started,
            now_ms=self.clock.now_ms(),
            snapshot=snapshot,
            enforcement=self._read_enforcement(),
            labels_applied=self.pipeline.labels_applied(),
            labelled=labelled_quality(snapshot.ledger),
            patterns=pattern_rows(snapshot.ledger, self._flagging),
            false_alarms=false_alarms(snapshot.ledger, self._flagging),
        )

    def _read_enforcement(self, fresh: bool = False) -> Enforcement:
        cached = self._enforcement
        if fresh or time.monotonic() - cached.read_at >= ENFORCEMENT_EVERY_S:
            settings = self.pipeline.settings
            cached.value = read_enforcement(
                self.pipeline.backends.state, settings.alerts, self.clock.now_ms()
            )
            cached.read_at = time.monotonic()
        return cached.value

    def _summary(self, interrupted: bool) -> DemoSummary:
        snapshot = self.pipeline.observer.snapshot(every_latency=True)
        outcome = self.pipeline.outcome
        elapsed = outcome.elapsed_s if outcome else (self._elapsed or 0.0)
        return summarize(
            snapshot,
            self._read_enforcement(fresh=True),
            self.info,
            elapsed_s=elapsed,
            simulated_days=elapsed * self.info.time_scale / 86_400,
            labels_applied=self.pipeline.labels_applied(),
            flagging_rules=self._flagging,
            interrupted=interrupted,
        )
