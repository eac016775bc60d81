"""A whole backtest: load the history, replay it through the detector, train on released labels,
report. See docs/backtest.md for what it promises and how to read the report."""

from __future__ import annotations

import gc
import logging
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from stream_sentinel.backtest.history import History
from stream_sentinel.backtest.ingest import Loaded, load_history
from stream_sentinel.backtest.learning import Kinds, LearnerPlan
from stream_sentinel.backtest.mapping import ColumnMap
from stream_sentinel.backtest.replay import Replay
from stream_sentinel.backtest.report import bad_rows_section, evaluation_metrics, iso
from stream_sentinel.backtest.retraining import Learned, ReplayPlan, replay_and_learn
from stream_sentinel.backtest.timeparse import TimeSpec
from stream_sentinel.backtest.training import not_enough_hint, released_until
from stream_sentinel.clients.backends import Backends, EmbeddedClients, RealClients
from stream_sentinel.clock import ManualClock
from stream_sentinel.config import Settings
from stream_sentinel.errors import ModelError, SentinelError, UsageError
from stream_sentinel.generator.durations import format_duration
from stream_sentinel.logic.profile import DAY_MS
from stream_sentinel.scoring.model import META_FILE, ModelArtifact
from stream_sentinel.scoring.store import ModelStore
from stream_sentinel.transport.topics import Topics
from stream_sentinel.wire.serde import Serde

Progress = Callable[[int, int], None]
Notice = Callable[[str], None]
log = logging.getLogger(__name__)


@dataclass
class BacktestOptions:
    path: Path
    mapping: ColumnMap
    label_column: str
    times: TimeSpec = field(default_factory=TimeSpec)
    assume_sorted: bool = False
    label_delay_ms: int = 7 * DAY_MS
    warmup_ms: int = 14 * DAY_MS
    retrain_every_ms: int | None = None
    train_window_ms: int | None = None
    #: The learner's model kinds at each retrain (``--learner``).
    learner: Kinds = "batch"
    #: The learner's validation period (None: the settings' ``learning.validation_ms``).
    validation_ms: int | None = None
    model_path: Path | None = None
    k: int = 100
    batch_rows: int = 20_000
    batch_span_ms: int | None = 3_600_000
    backend: Literal["embedded", "local"] = "embedded"


@dataclass
class Backtest:
    """The outcome of a run: the history, what the detector decided, and the report."""

    history: History
    replay: Replay
    report: dict[str, Any]
    evaluation_start_ms: int


def run_backtest(
    options: BacktestOptions,
    settings: Settings,
    progress: Progress | None = None,
    notice: Notice | None = None,
) -> Backtest:
    """Load ``options.path`` and backtest it (see :func:`backtest_history`)."""
    started = time.perf_counter()
    loaded = load_history(
        options.path, options.mapping, options.label_column, options.times, options.assume_sorted
    )
    read_s = time.perf_counter() - started
    if notice:
        notice(_loaded_line(loaded, read_s))
    result = backtest_history(loaded, options, settings, progress, notice)
    result.report["throughput"]["read_s"] = round(read_s, 3)
    result.report["throughput"]["total_s"] = round(time.perf_counter() - started, 3)
    return result


def backtest_history(
    loaded: Loaded,
    options: BacktestOptions,
    settings: Settings,
    progress: Progress | None = None,
    notice: Notice | None = None,
) -> Backtest:
    """Replay a loaded history through the detector, train on released labels, report."""
    history = loaded.history
    model = _load_model(options.model_path)
    if not len(history):
        examples = "; ".join(f"line {line}: {reason}" for line, reason in loaded.bad_rows[:3])
        raise UsageError(
            f"{options.path}: no usable transaction (every row was bad"
            + (f", e.g. {examples}" if examples else "")
            + "); check --map and --time-format"
        )
    evaluation_start = _check_history(history, options, model is None)
    if notice:
        notice(f"evaluation from {iso(evaluation_start)} (after the warmup)")
    plan = _replay_plan(history, options, settings, evaluation_start)
    settings = settings.with_overrides(
        detector={"max_batch": options.batch_rows, "max_batch_burst": options.batch_rows}
    )
    with _pipeline(settings, options, history) as replay, _frozen_heap():
        replay_started = time.perf_counter()
        learned = replay_and_learn(replay, plan, settings, model, progress, notice)
        replay_s = time.perf_counter() - replay_started
    report = _report(loaded, replay, options, plan, learned)
    report["throughput"] = {
        "read_s": 0.0,
        "replay_s": round(replay_s, 3),
        "training_s": round(learned.training_s, 3),
        "rows_per_s": round(len(history) / max(replay_s, 1e-9), 1),
        "total_s": round(replay_s, 3),
    }
    return Backtest(history, replay, report, evaluation_start)


# -- preparation --------------------------------------------------------------------------------
def _load_model(path: Path | None) -> ModelArtifact | None:
    """``--model``: an artifact directory, or a model store (its current model)."""
    if path is None:
        return None
    try:
        if (path / META_FILE).is_file():
            return ModelArtifact.load(path)
        current = ModelStore(path).load_current()
    except ModelError as exc:
        raise UsageError(f"--model {path}: {exc}") from None
    if current is None:
        raise UsageError(
            f"--model {path}: not a model directory (no {META_FILE}) nor a model store with a "
            "current model"
        )
    return current


def _check_history(history: History, options: BacktestOptions, needs_training: bool) -> int:
    """The evaluation start; fails early when the run could not be meaningful."""
    if not len(history):
        raise UsageError(f"{options.path}: no usable transaction (every row was bad)")
    first, last = int(history.timestamp[0]), int(history.timestamp[-1])
    evaluation_start = first + options.warmup_ms
    if evaluation_start > last:
        raise UsageError(
            f"the warmup ({format_duration(options.warmup_ms / 1000)}) covers the whole history "
            f"({iso(first)} .. {iso(last)}): use a shorter --warmup"
        )
    if needs_training:
        released = released_until(history.timestamp, evaluation_start, options.label_delay_ms)
        if not history.labels[:released].any():
            raise UsageError(
                f"no fraud label is released by the end of the warmup ({iso(evaluation_start)}): "
                f"{released:,} labelled transactions, none of them fraud; "
                + not_enough_hint(options.label_delay_ms)
            )
    return evaluation_start


def _replay_plan(
    history: History, options: BacktestOptions, settings: Settings, evaluation_start: int
) -> ReplayPlan:
    """The retrain schedule and the learner's lines (``--train-window`` counts labelled time:
    the training set reaches back that far past the label delay)."""
    validation_ms = validation_of(options, settings)
    labelled_ms = options.train_window_ms
    if labelled_ms is None:  # every released label
        labelled_ms = int(history.timestamp[-1]) - int(history.timestamp[0]) + 1
    learner = LearnerPlan(
        options.learner, options.label_delay_ms, options.label_delay_ms + labelled_ms, validation_ms
    )
    return ReplayPlan(
        evaluation_start,
        _training_times(history, options, evaluation_start),
        learner,
        options.batch_rows,
        options.batch_span_ms,
    )


def validation_of(options: BacktestOptions, settings: Settings) -> int:
    """The learner's validation period; it must leave a training period in ``--train-window``."""
    validation_ms = options.validation_ms or settings.learning.validation_ms
    window = options.train_window_ms
    if window is not None and validation_ms >= window:
        given = format_duration(validation_ms / 1000)
        source = f"--validation {given}"
        if options.validation_ms is None:
            source = (
                f"the validation period {given} (the settings' default: learning.validation_ms, "
                "SENTINEL_LEARNING_VALIDATION_MS)"
            )
        raise UsageError(
            f"{source} leaves no training period inside --train-window "
            f"{format_duration(window / 1000)}: pass --validation "
            f"{format_duration(max(window // 3, 1) / 1000)} or a --train-window longer than "
            f"{given}"
        )
    return validation_ms


def _training_times(
    history: History, options: BacktestOptions, evaluation_start: int
) -> list[tuple[int, bool]]:
    """(time, initial) of each training: at the evaluation start unless --model, then every
    --retrain-every until the history ends."""
    times = [] if options.model_path else [(evaluation_start, True)]
    if options.retrain_every_ms:
        at = evaluation_start + options.retrain_every_ms
        while at <= int(history.timestamp[-1]):
            times.append((at, False))
            at += options.retrain_every_ms
    return times


def _loaded_line(loaded: Loaded, seconds: float) -> str:
    history = loaded.history
    span = ""
    if len(history):
        span = f"; {iso(int(history.timestamp[0]))} .. {iso(int(history.timestamp[-1]))}"
    return (
        f"read {loaded.rows_read:,} rows in {seconds:.1f} s: {len(history):,} transactions "
        f"({int(history.labels.sum()):,} fraud), {len(loaded.bad_rows):,} bad rows{span}"
    )


@contextmanager
def _pipeline(settings: Settings, options: BacktestOptions, history: History) -> Iterator[Replay]:
    clock = ManualClock(int(history.timestamp[0]))
    backends, serde, topics = _backends(settings, options.backend, clock)
    try:
        backends.broker.admin().create_topics(topics.specs())
        replay = Replay(
            run_settings(settings, topics), backends, serde, history, clock, options.label_delay_ms
        )
        replay.start()
        try:
            yield replay
        finally:
            replay.close()
    finally:
        if options.backend == "local":
            _delete_topics(backends, topics)
            _clear_state(backends)
        backends.close()


def _clear_state(backends: Backends) -> None:
    """A local run's Redis keys (its own namespace) go with it, watermarks included."""
    try:
        backends.state.clear()
    except SentinelError as exc:
        log.warning("the backtest's Redis keys were not deleted: %s", exc)


def _delete_topics(backends: Backends, topics: Topics) -> None:
    """A local run's topics go with it (a failure here must not hide the run's own error)."""
    try:
        backends.broker.admin().delete_topics([spec.name for spec in topics.specs()])
    except SentinelError as exc:
        log.warning("the backtest's topics (%s*) were not deleted: %s", topics.prefix, exc)


def run_settings(settings: Settings, topics: Topics) -> Settings:
    """Consumer groups of the run's own (the prefix keeps a local run off live groups)."""
    detector = settings.detector
    return settings.with_overrides(
        kafka={"topic_prefix": topics.prefix},
        detector={
            "group_id": f"{topics.prefix}{detector.group_id}",
            "feedback_group_id": f"{topics.prefix}{detector.feedback_group_id}",
        },
    )


def _backends(
    settings: Settings, backend: str, clock: ManualClock
) -> tuple[Backends, Serde, Topics]:
    if backend == "embedded":
        embedded = EmbeddedClients(clock)
        return embedded.backends(), Serde(embedded.registry()), Topics()
    prefix = f"backtest-{secrets.token_hex(4)}-"
    local = settings.with_overrides(kafka={"topic_prefix": prefix}, redis={"key_namespace": prefix})
    real = RealClients(local)
    return real.backends(), Serde.from_settings(local, real.registry()), Topics(prefix)


# -- the replay ---------------------------------------------------------------------------------
@contextmanager
def _frozen_heap() -> Iterator[None]:
    """The replay holds millions of long-lived objects (the history, the embedded broker's
    logs); left to the cyclic collector they would be rescanned over and over. See
    :func:`~stream_sentinel.backtest.retraining._settle_heap`; everything frozen is handed
    back to the collector at the end."""
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


# -- the report ---------------------------------------------------------------------------------
def _report(
    loaded: Loaded,
    replay: Replay,
    options: BacktestOptions,
    plan: ReplayPlan,
    learned: Learned,
) -> dict[str, Any]:
    evaluation_start = plan.evaluation_start_ms
    history, outcomes = loaded.history, replay.outcomes
    return {
        "input": {
            "path": str(options.path),
            "mapping": dict(loaded.mapping.describe()),
            "label_column": options.label_column,
            "time_format": loaded.time_format,
            **bad_rows_section(loaded.rows_read, loaded.bad_rows),
            "transactions": len(history),
            "fraud": int(history.labels.sum()),
            "first_event": iso(int(history.timestamp[0])),
            "last_event": iso(int(history.timestamp[-1])),
        },
        "settings": {
            "backend": options.backend,
            "label_delay": format_duration(options.label_delay_ms / 1000),
            "warmup": format_duration(options.warmup_ms / 1000),
            "retrain_every": _duration(options.retrain_every_ms),
            "train_window": _duration(options.train_window_ms),
            "model": _model_setting(options),
            "learner": options.learner,
            "validation": _duration(plan.learner.validation_ms),
            "batch_rows": options.batch_rows,
            "batch_span": _duration(options.batch_span_ms),
        },
        "evaluation_start": iso(evaluation_start),
        "labels_released": replay.labels_released,
        "dead_letters": outcomes.rejections(),
        "models": learned.models,
        "scored_by": learned.periods,
        "evaluation": evaluation_metrics(history, outcomes, evaluation_start, options.k),
    }


def _model_setting(options: BacktestOptions) -> str:
    if options.model_path:
        return str(options.model_path)
    return "the learner's champion after each retrain (see models and scored_by)"


def _duration(ms: int | None) -> str | None:
    return None if ms is None else format_duration(ms / 1000)
