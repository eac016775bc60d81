"""The replay with its learner: slices through the detector, the learner's intake after each,
and the learner's retrain at each scheduled time (:mod:`.learning`), the detector then scoring
with the champion the retrain left.

A retrain that leaves no champion at the evaluation start stops the run (there would be nothing
to evaluate); later, a candidate that is skipped or kept as challenger leaves the champion
serving, as it would live.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from stream_sentinel.backtest.learning import BacktestLearner, LearnerPlan
from stream_sentinel.backtest.replay import Replay, plan_slices
from stream_sentinel.backtest.report import iso
from stream_sentinel.backtest.training import not_enough_hint
from stream_sentinel.config import Settings
from stream_sentinel.errors import UsageError
from stream_sentinel.scoring.model import ModelArtifact

Progress = Callable[[int, int], None]
Notice = Callable[[str], None]


@dataclass
class Learned:
    """Every model the run trained (report entries) and which model scored from when."""

    models: list[dict[str, Any]] = field(default_factory=list)
    periods: list[dict[str, Any]] = field(default_factory=list)

    @property
    def training_s(self) -> float:
        return sum(float(m["seconds"]) for m in self.models)

    def served(self, at_ms: int, version: str | None, kind: str) -> None:
        if self.periods:
            self.periods[-1]["until"] = iso(at_ms)
        self.periods.append({"from": iso(at_ms), "until": None, "version": version, "kind": kind})


@dataclass
class ReplayPlan:
    evaluation_start_ms: int
    schedule: list[tuple[int, bool]]  # (time, initial) of each retrain
    learner: LearnerPlan
    batch_rows: int
    batch_span_ms: int | None


def _settle_heap() -> None:
    """After a slice: collect its young garbage, then freeze what survived (it stays)."""
    gc.collect(1)
    gc.freeze()


def replay_and_learn(
    replay: Replay,
    plan: ReplayPlan,
    settings: Settings,
    model: ModelArtifact | None,
    progress: Progress | None = None,
    notice: Notice | None = None,
) -> Learned:
    """Replay the whole history, retraining on ``plan.schedule`` (see the module doc)."""
    history, learned = replay.history, Learned()
    ts, start_ms = history.timestamp, plan.evaluation_start_ms
    cuts = [
        int(np.searchsorted(ts, at, "left")) for at in [start_ms, *(a for a, _ in plan.schedule)]
    ]
    pending = list(plan.schedule)
    learner = BacktestLearner(replay, settings, plan.learner) if pending else None
    if learner is None:
        replay.features = None
    for start, stop in plan_slices(ts, plan.batch_rows, plan.batch_span_ms, cuts):
        if model is not None and ts[start] >= start_ms:
            served = replay.serve(model, "the backtest's --model")
            learned.served(int(ts[start]), served.version, served.kind)
            model = None
        while learner is not None and pending and ts[start] >= pending[0][0]:
            at, initial = pending.pop(0)
            _retrain(replay, learner, learned, at, initial, notice)
            if not pending:  # no later retrain reads the training set: stop feeding it
                learner.forget()
                learner = None
        if learner is not None:  # chargebacks due first: a row matures when its label is due
            replay.release_labels(int(ts[start]))
            learner.learn_online(int(ts[start]))
        replay.run_slice(start, stop)
        if learner is not None:
            learner.take_slice(start, stop)
        _settle_heap()
        if progress:
            progress(stop, len(history))
    return learned


def _retrain(
    replay: Replay,
    learner: BacktestLearner,
    learned: Learned,
    at: int,
    initial: bool,
    notice: Notice | None,
) -> None:
    replay.release_labels(at)
    before = learner.champion()
    started = time.perf_counter()
    outcomes = learner.retrain(at, "warmup end" if initial else "schedule")
    seconds = (time.perf_counter() - started) / max(len(outcomes), 1)
    entries = [learner.describe(outcome, seconds) for outcome in outcomes]
    learned.models.extend(entries)
    if notice:
        for entry in entries:
            notice(_line(entry))
    champion = learner.champion()
    if champion is None:
        _no_champion(learner, learned, at, initial, entries, notice)
    elif champion != before:
        served = replay.serve_version(champion)
        learned.served(at, served.version, served.kind)


def _no_champion(
    learner: BacktestLearner,
    learned: Learned,
    at: int,
    initial: bool,
    entries: list[dict[str, Any]],
    notice: Notice | None,
) -> None:
    """No candidate trained at the warmup end: nothing to evaluate, say what to change. One
    trained but kept as challenger: the detector scores with its rules only, as it would live."""
    if initial and all(e["version"] is None for e in entries):
        reasons = "; ".join(e["reason"] for e in entries)
        raise UsageError(
            f"no model could be trained at {iso(at)} ({reasons}); "
            + not_enough_hint(learner.label_delay_ms)
            + f", or a shorter --validation (the latest {learner.validation_text} of the labelled "
            "rows validate, only the rest train)"
        )
    if not learned.periods or learned.periods[-1]["version"] is not None:
        learned.served(at, None, "rules only")
        if notice:
            notice(f"{iso(at)}: no champion yet, the detector scores with its rules only")


def _line(entry: dict[str, Any]) -> str:
    training = entry["training"]
    what = f"{entry['kind']} {entry['version']}" if entry["version"] else "retrain"
    return (
        f"{entry['trained_at']}: {what} on {training['rows']:,} rows "
        f"({training['frauds']:,} frauds): {entry['reason']}"
    )
