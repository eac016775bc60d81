"""`drift evaluate`: how fast each drift monitor sees a scenario's switch, and how often it
alarms without one, measured end to end on the embedded backends in event time.

One run: the generator simulates the scenario (labels with their delay included); a model is
trained beforehand on a separate baseline history (its own seed), registered and served; the
detector process scores the traffic in ten-minute slices (its clock set to the slice's last
event time, labels released when due, as in the backtest); the drift service reads
``decision-features`` after each slice on the same broker. Nothing waits on wall time, so a
run is deterministic for its seed.

Per monitor (and feature or band), from the ``DriftEvent``s the service published:

- ``first_alarm_after_switch_s``: event time from the switch to the first alarm of a window
  that starts at or after the switch (``detected_time - switch``);
- ``false_alarms_before_switch``: alarms of windows that end at or before the switch;
- ``false_alarms_per_week``: those alarms per simulated week of windows checked before the
  switch (for ``baseline``, which has no switch, every window counts); for the labelled
  performance monitors (``adwin-error`` ...), which need no reference and watch from the
  simulation's start, warm-up included, per simulated week from the start to the switch.

The performance monitors' labels are the ones the detector's feedback loop is given (released
in event time when due); ``labels`` says how many were read, late (after the deadline),
joined to no decision, and fed.

Beside them, over all monitors: ``windows_with_an_alarm_before_switch`` and ``..._after_switch``,
the windows with any alarm at all (what the family-wise alpha bounds), not the alarm count
(a performance monitor's alarm counts for the hour of its decision too).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from stream_sentinel.clients.backends import EmbeddedClients
from stream_sentinel.clock import ManualClock
from stream_sentinel.config import Settings
from stream_sentinel.config.learning import DriftSettings
from stream_sentinel.detector.models import ModelSource
from stream_sentinel.detector.runner import DetectorProcess
from stream_sentinel.generator import SimulationConfig, Simulator
from stream_sentinel.generator.labels import LabelPolicy
from stream_sentinel.learning.aliases import CHAMPION
from stream_sentinel.learning.drift.checks import WindowCheck
from stream_sentinel.learning.drift.decisions import KeepingDecisions
from stream_sentinel.learning.drift.events import DriftEvent
from stream_sentinel.learning.drift.handler import DriftHandler, DriftOutcome
from stream_sentinel.learning.drift.labelled import LabelledHandler, LabelledOutcome
from stream_sentinel.learning.drift.service import RegistryBands, drift_loop, labelled_loop
from stream_sentinel.learning.models import draft_of, load_model
from stream_sentinel.learning.registry import ModelRegistry
from stream_sentinel.logic.drift.outcomes import MONITORS, rates_around
from stream_sentinel.logic.drift.window import HOUR_MS
from stream_sentinel.scoring.model import ModelArtifact
from stream_sentinel.stream.loop import StreamLoop
from stream_sentinel.transport.topics import Topics
from stream_sentinel.wire.records import to_dict
from stream_sentinel.wire.serde import Serde

DAY_MS = 24 * HOUR_MS
WEEK_S = 7 * 86_400
START_MS = 1_699_999_200_000  # on the hour (2023-11-14 22:00 UTC)
#: The detector and drift see the traffic in slices of this much event time: an hour closes
#: within a slice of the moment every partition has passed it (plus the lateness).
SLICE_MS = 10 * 60_000
#: The model's training history: baseline traffic over this many days before START_MS.
TRAINING_DAYS = 3
Progress = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class EvaluateOptions:
    scenario: str
    days: int
    switch_at_ms: int  # after the start
    seed: int
    users: int = 5000
    label_delay_ms: int = 6 * HOUR_MS
    warmup_days: int = 7

    @property
    def begin_ms(self) -> int:
        """Where the simulation starts: the warm-up before the evaluated days."""
        return START_MS - self.warmup_days * DAY_MS


def evaluate(
    options: EvaluateOptions,
    settings: Settings,
    drift: DriftSettings,
    model: ModelArtifact,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Run the scenario through detect and drift; the per-monitor figures (module docstring)."""
    # the simulation starts cold: the warm-up lets users' histories fill before the reference
    drift = drift.model_copy(update={"warmup_hours": options.warmup_days * 24})
    run = _Run(options, settings, drift, model)
    try:
        run.play(progress)
    finally:
        run.close()
    checks = [c for o in run.outcomes for c in o.checks]
    events = [e for o in run.outcomes for e in o.events]
    events += [e for o in run.labelled for e in o.events]
    found = _figures(options, drift, model, run.transactions, checks, events)
    labels = labelled_counts(drift, run.labelled)
    switch_hour = (START_MS + options.switch_at_ms) // HOUR_MS
    rates = rates_around([o.fed for o in run.labelled], switch_hour)
    return {**found, "labels": {**labels, **rates}}


def labelled_counts(drift: DriftSettings, outcomes: list[LabelledOutcome]) -> dict[str, int]:
    """What the performance monitors were fed: labels read, labels given after the deadline
    (or for a bucket already settled), labelled transactions without a kept decision, labelled
    decisions fed, and buckets settled."""
    return {
        "deadline_hours": drift.performance_deadline_hours,
        "read": sum(o.labels for o in outcomes),
        "late": sum(o.late for o in outcomes),
        "unjoined": sum(o.unjoined for o in outcomes),
        "fed": sum(o.outcomes for o in outcomes),
        "buckets_settled": sum(len(o.settled) for o in outcomes),
    }


def _figures(
    options: EvaluateOptions,
    drift: DriftSettings,
    model: ModelArtifact,
    transactions: int,
    checks: list[WindowCheck],
    events: list[DriftEvent],
) -> dict[str, Any]:
    switch = START_MS + options.switch_at_ms
    baseline = options.scenario == "baseline"
    watched = switch if not baseline else START_MS + options.days * DAY_MS
    hours_before = sum(1 for c in checks if c.window_end <= watched)
    monitors = []
    for monitor, feature in [*_subjects(checks), *((name, None) for name in MONITORS)]:
        mine = [e for e in events if (e.monitor, e.feature) == (monitor, feature)]
        before = [e for e in mine if e.window_end <= watched]
        after = [e for e in mine if e.window_start >= switch and not baseline]
        first = min((e.detected_time - switch for e in after), default=None)
        # the labelled monitors need no reference: they watch from the first settled hour
        watching_s = hours_before * 3600 if monitor not in MONITORS else _from_begin(options)
        weeks = watching_s / WEEK_S
        monitors.append(
            {
                "monitor": monitor,
                "feature": feature,
                "first_alarm_after_switch_s": None if first is None else first // 1000,
                "alarms_after_switch": len(after),
                "false_alarms_before_switch": len(before),
                "false_alarms_per_week": round(len(before) / weeks, 3) if weeks else None,
            }
        )
    return {
        "scenario": options.scenario,
        "switch_at": switch,
        "days": options.days,
        "warmup_days": options.warmup_days,
        "reference_hours": drift.reference_hours,
        "seed": options.seed,
        "users": options.users,
        "label_delay_s": options.label_delay_ms // 1000,
        "model_version": model.version,
        "transactions": transactions,
        "windows_checked": len(checks),
        "windows_before_switch": hours_before,
        "reference_size": checks[0].reference_size if checks else 0,
        **windows_with_an_alarm(events, watched, switch, baseline),
        "monitors": monitors,
    }


def _from_begin(options: EvaluateOptions) -> int:
    """Seconds the performance monitors watch before the switch (the end for ``baseline``)."""
    end = options.days * DAY_MS if options.scenario == "baseline" else options.switch_at_ms
    return (START_MS + end - options.begin_ms) // 1000


def windows_with_an_alarm(
    events: list[DriftEvent], watched: int, switch: int, baseline: bool
) -> dict[str, int]:
    """Windows with any alarm, before the switch (ending at or before ``watched``) and after
    it (starting at or after ``switch``); a window with several alarms counts once."""
    before = {(e.model_version, e.window_start) for e in events if e.window_end <= watched}
    after = {
        (e.model_version, e.window_start)
        for e in events
        if e.window_start >= switch and not baseline
    }
    return {
        "windows_with_an_alarm_before_switch": len(before),
        "windows_with_an_alarm_after_switch": len(after),
    }


def train_model(
    settings: Settings, seed: int, users: int, label_delay_ms: int, before_ms: int
) -> ModelArtifact:
    """The served model: trained on baseline traffic of the days before ``before_ms``, with a
    seed of its own (never the evaluated traffic)."""
    from stream_sentinel.scoring.workflow import train_from_records

    config = SimulationConfig(
        users=users,
        scenario="baseline",
        start_ms=before_ms - TRAINING_DAYS * DAY_MS,
        end_ms=before_ms,
        labels=LabelPolicy(delay_ms=label_delay_ms),
    )
    simulator = Simulator(config, seed=seed + 10_000)
    batch = simulator.next_batch(10_000_000).sorted_by_time()
    records = [to_dict(tx) for tx in simulator.transactions(batch)]
    labels = batch.is_fraud.astype(int).tolist()
    artifact, _ = train_from_records(
        records, labels, label_delay_ms, settings, source="drift evaluate"
    )
    return artifact


def _subjects(checks: list[WindowCheck]) -> list[tuple[str, str | None]]:
    seen: Counter[tuple[str, str | None]] = Counter()
    for check in checks:
        for value in check.values:
            seen[(value.monitor, value.feature)] += 1
    return list(seen)


class _Run:
    """The embedded backends, the detector process and the drift loop of one evaluation."""

    def __init__(
        self,
        options: EvaluateOptions,
        settings: Settings,
        drift: DriftSettings,
        model: ModelArtifact,
    ) -> None:
        self.options = options
        self.clock = ManualClock(START_MS)
        embedded = EmbeddedClients(self.clock)
        self.backends = embedded.backends()
        self.serde = Serde(embedded.registry())
        self.topics = Topics()
        self.backends.broker.admin().create_topics(self.topics.specs())
        registry = ModelRegistry(self.backends.state, self.clock)
        version, _ = registry.register(*draft_of(model, options.label_delay_ms))
        registry.promote(version.version, CHAMPION, "drift evaluate", actor="evaluate")
        settings = settings.with_overrides(detector={"overlap_state_writes": False})
        self.models = ModelSource(load_model(registry, version.version))
        self.process = DetectorProcess(
            settings, self.backends, self.serde, clock=self.clock, models=self.models
        )
        self.process.detector.state.merchant_refresh_s = float("inf")
        self.outcomes: list[DriftOutcome] = []
        self.labelled: list[LabelledOutcome] = []
        self.drift, self.labels = self._loops(settings, drift, RegistryBands(registry))
        self._producer = self.backends.broker.producer()
        self.transactions = 0

    def _loops(
        self, settings: Settings, drift: DriftSettings, bands: RegistryBands
    ) -> tuple[StreamLoop, StreamLoop]:
        """The drift group's two loops: decision-features (windows, kept decisions) and
        fraud-feedback (the labelled performance monitors)."""
        handler = DriftHandler(
            self.serde,
            self.backends.state,
            drift,
            bands,
            self.topics,
            self.clock,
            self.outcomes.append,
        )
        labelled = LabelledHandler(
            self.serde, self.backends.state, drift, self.topics, self.clock, self.labelled.append
        )
        keeping = KeepingDecisions(
            handler,
            self.serde,
            bands,
            settings.detector.alert_level.name,
            drift.performance_deadline_hours * HOUR_MS,
            labelled,
        )
        drift_windows = drift_loop(
            self.backends.broker,
            self.backends.state,
            keeping,
            drift,
            self.topics,
            max_batch=5000,
            poll_timeout_s=0.0,
        )
        drift_labels = labelled_loop(
            self.backends.broker,
            self.backends.state,
            labelled,
            drift,
            self.topics,
            max_batch=5000,
            poll_timeout_s=0.0,
        )
        return drift_windows, drift_labels

    def play(self, progress: Progress | None) -> None:
        options = self.options
        config = SimulationConfig(
            users=options.users,
            scenario=options.scenario,
            start_ms=options.begin_ms,
            switch_at_ms=START_MS + options.switch_at_ms,
            end_ms=START_MS + options.days * DAY_MS,
            labels=LabelPolicy(delay_ms=options.label_delay_ms),
        )
        simulator = Simulator(config, seed=options.seed)
        batch = simulator.next_batch(10_000_000).sorted_by_time()
        records = simulator.transactions(batch)
        ts = np.asarray([r.timestamp for r in records], dtype=np.int64)
        slices = (ts - options.begin_ms) // SLICE_MS
        encode = self.serde.encoder("transactions")
        feedback = self.serde.encoder("fraud-feedback")
        self.process.start()
        self.drift.start()
        self.labels.start()
        _join((self.drift, self.labels))
        total = (options.warmup_days + options.days) * DAY_MS // SLICE_MS
        bounds = np.searchsorted(slices, np.arange(total + 1), "left")
        per_day = DAY_MS // SLICE_MS
        for index in range(total):
            first, last = int(bounds[index]), int(bounds[index + 1])
            if first == last:
                continue
            self.clock.set(int(ts[last - 1]))
            for record in records[first:last]:
                self._producer.produce(
                    self.topics.transactions, encode(to_dict(record)), record.user_id.encode()
                )
            self._producer.flush(60.0)
            _drain(self.process.detector.poll, self.process.detector.loop, last - first)
            self.transactions += last - first
            labels = simulator.feedback(simulator.labels_due(int(ts[last - 1])))
            for label in labels:
                self._producer.produce(
                    self.topics.fraud_feedback, feedback(to_dict(label)), label.user_id.encode()
                )
            self._producer.flush(60.0)
            _drain(self.process.feedback.poll, self.process.feedback, len(labels))
            _drain(self.drift.poll, self.drift, last - first)
            _drain(self.labels.poll, self.labels, len(labels))
            if progress and index % per_day == per_day - 1:
                day = index // per_day + 1
                progress(f"day {day} of {total // per_day}: {self.transactions:,} transactions")

    def close(self) -> None:
        try:
            self.labels.close()
            self.drift.close()
        finally:
            self.process.close()
            self._producer.close()
            self.backends.close()


def _join(loops: tuple[StreamLoop, ...]) -> None:
    """Poll the members of one group until each holds its partitions (an eager rebalance
    completes once every member has taken part)."""
    for _ in range(1000):
        if all(loop.consumer is not None and loop.consumer.assignment() for loop in loops):
            return
        for loop in loops:
            loop.poll()
    raise RuntimeError("the drift group's loops were not assigned their partitions")


def _drain(poll: Callable[[], int], loop: StreamLoop, count: int) -> None:
    """Poll until ``loop`` has handled ``count`` more records (every record is produced and
    flushed before, so the embedded broker has them all)."""
    target = loop.stats.records + count
    for _ in range(100_000):
        if loop.stats.records >= target:
            return
        poll()
    raise RuntimeError(f"{loop.group_id} handled {loop.stats.records} of {target} records")
