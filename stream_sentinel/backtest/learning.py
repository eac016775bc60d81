"""The backtest's retraining, by the learner's own code (:mod:`stream_sentinel.learning.learner`).

The replay is the learner's intake: after each slice the feature rows the detector scored go
into the learner's training-set store as the ``decision-features`` records would (each row
decided at its event time, the replay's clock), and each chargeback the replay releases goes in
as the learner decodes a ``fraud-feedback`` record. A retrain at event time ``T`` is then the
learner's :meth:`~stream_sentinel.learning.learner.retrain.Retrainer.retrain_all`: the same
join (a row never labelled counts as legitimate once older than the label delay), the same
time-ordered validation split, the same candidate training (LightGBM, the River online model
or both), the same promotion policy, and registration in the run's own registry, created and
promoted by ``backtest``. The detector scores with whatever is champion afterwards.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from stream_sentinel.backtest.replay import Replay
from stream_sentinel.backtest.report import iso
from stream_sentinel.backtest.wire import FeedbackWire
from stream_sentinel.config import Settings
from stream_sentinel.generator.durations import format_duration
from stream_sentinel.learning.aliases import CHAMPION
from stream_sentinel.learning.labels import SourcedLabel
from stream_sentinel.learning.learner import store
from stream_sentinel.learning.learner.retrain import Retrainer, RetrainOutcome
from stream_sentinel.learning.learner.rows import LoggedRow
from stream_sentinel.learning.learner.store import TrainingSetStore
from stream_sentinel.state.base import Batch

Kinds = Literal["batch", "online", "both"]
KINDS: tuple[Kinds, ...] = ("batch", "online", "both")
ACTOR: Literal["backtest"] = "backtest"


@dataclass(frozen=True, slots=True)
class LearnerPlan:
    """How the backtest's learner runs: its model kinds and the join's lines."""

    kinds: Kinds
    label_delay_ms: int
    window_ms: int  # the training set's reach back from a retrain (label delay included)
    validation_ms: int


class BacktestLearner:
    """The learner fed by the replay (see the module doc)."""

    def __init__(self, replay: Replay, settings: Settings, plan: LearnerPlan) -> None:
        learning = settings.learning.model_copy(
            update={
                "learner": plan.kinds,
                "label_delay_ms": plan.label_delay_ms,
                "window_ms": plan.window_ms,
                "validation_ms": plan.validation_ms,
            }
        )
        self._replay, self._plan = replay, plan
        self.store = TrainingSetStore(replay.state)
        self.retrainer = Retrainer(
            self.store,
            replay.registry,
            learning,
            settings.detector.band_rates,
            settings.detector.alert_level,
            actor=ACTOR,
        )
        replay.on_labels = self.take_labels
        self._first_ms = int(replay.history.timestamp[0]) if len(replay.history) else 0

    # -- the intake -----------------------------------------------------------------------------
    def take_slice(self, start: int, stop: int) -> int:
        """Log the feature rows the detector scored in rows ``start .. stop-1``."""
        features = self._replay.features
        if features is None:
            return 0
        history = self._replay.history
        matrix = features.rows(start, stop)
        scored = np.flatnonzero(~np.isnan(matrix).all(axis=1))
        batch = Batch()
        for offset in scored.tolist():
            row = start + offset
            at = int(history.timestamp[row])
            vector = tuple(float(v) for v in matrix[offset])
            logged = LoggedRow(history.transaction_id[row], history.user_id[row], at, at, vector)
            store.row_writes(batch, logged)
        if len(batch):
            self._replay.state.execute(batch)
        features.forget_before(stop)
        return len(scored)

    def take_labels(self, rows: list[int]) -> None:
        """The chargebacks the replay just released, as the learner's intake stores them."""
        history, delay = self._replay.history, self._plan.label_delay_ms
        batch = Batch()
        for row in rows:
            record = FeedbackWire.record(history, row, int(history.timestamp[row]) + delay)
            store.label_writes(batch, str(record["transaction_id"]), SourcedLabel.of_record(record))
        if len(batch):
            self._replay.state.execute(batch)

    # -- learning -------------------------------------------------------------------------------
    def learn_online(self, now_ms: int) -> int:
        """The online model learns what became learnable by ``now_ms`` (0 for ``batch``)."""
        return self.retrainer.learn_online(now_ms)

    def retrain(self, at_ms: int, trigger: str) -> list[RetrainOutcome]:
        """The learner's retrain at ``at_ms``; then the rows outside its window are evicted."""
        self.learn_online(at_ms)
        outcomes = self.retrainer.retrain_all(at_ms, trigger)
        self.store.evict(at_ms - self._plan.window_ms)
        return outcomes

    def forget(self) -> int:
        """After the last retrain: drop the training set (rows, labels, the online model's
        scores, the hours); the online model's own state, status and capped decisions stay."""
        self._replay.features = self._replay.on_labels = None
        return self.store.evict(2**62)

    @property
    def label_delay_ms(self) -> int:
        return self._plan.label_delay_ms

    @property
    def validation_text(self) -> str:
        return format_duration(self._plan.validation_ms / 1000)

    def champion(self) -> str | None:
        return self._replay.registry.aliases().get(CHAMPION)

    def describe(self, outcome: RetrainOutcome, seconds: float) -> dict[str, Any]:
        """A report entry: when, kind, the lines drawn, counts, metrics and the decision."""
        counts = outcome.counts
        entry: dict[str, Any] = {
            "trained_at": iso(outcome.event_time_ms),
            "trigger": outcome.trigger,
            "version": outcome.version,
            "kind": None,
            "training": _span(counts, "window_start_ms", "validation_start_ms", self._first_ms)
            | {"rows": counts.get("train_rows", 0), "frauds": counts.get("train_frauds", 0)},
            "validation": _span(counts, "validation_start_ms", "mature_end_ms", self._first_ms)
            | {
                "rows": counts.get("validation_rows", 0),
                "frauds": counts.get("validation_frauds", 0),
            },
            "metrics": None,
            "decision": outcome.alias or "skipped",
            "promoted": outcome.alias == CHAMPION and outcome.reason.startswith("promoted"),
            "reason": outcome.reason,
            "seconds": round(seconds, 3),
        }
        if outcome.version is not None:
            version = self._replay.registry.get(outcome.version)
            entry["kind"], entry["metrics"] = version.kind, _metrics(version.metrics)
        return entry


def _span(counts: Mapping[str, int], start: str, end: str, first_ms: int) -> dict[str, Any]:
    """A part's event-time lines (half-open), from the history's first event at the earliest."""
    if start not in counts:
        return {"from": None, "until": None}
    return {"from": iso(max(int(counts[start]), first_ms)), "until": iso(int(counts[end]))}


def _metrics(card: Mapping[str, Any]) -> dict[str, Any]:
    """What the learner registered of a candidate's scorecard (the daily lists left out)."""
    names = ("roc_auc", "average_precision", "card_precision_at_100", "alert_rate")
    bands = {
        band: {k: float(v) for k, v in row.items()} for band, row in card.get("bands", {}).items()
    }
    return {name: float(card[name]) for name in names if name in card} | {"bands": bands}
