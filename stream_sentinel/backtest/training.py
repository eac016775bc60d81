"""Training inside a backtest: on the features the detector itself computed, with released labels.

Every scored batch hands its feature matrix to a :class:`FeatureLog` (the exact rows the model
scored, so training and live features are literally the same numbers, merchant label counters
included). At a training time ``T`` the model learns from the transactions whose labels were
released by ``T`` (``event time + label delay <= T``), optionally only the latest
``train_window`` of them; nothing later is visible. Fitting is LightGBM's deterministic mode
(:mod:`stream_sentinel.scoring.train`), so the same history gives the same model.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from stream_sentinel.backtest.history import History
from stream_sentinel.config import Settings
from stream_sentinel.errors import ModelError, UsageError
from stream_sentinel.generator.durations import format_duration
from stream_sentinel.logic.features import FEATURES
from stream_sentinel.logic.offline import Replayed
from stream_sentinel.scoring.model import ModelArtifact
from stream_sentinel.scoring.train import train

HOLDOUT = 0.2  # the latest share of the training rows, on which the score bands are chosen


class FeatureLog:
    """The detector's feature rows by history row (NaN rows: not scored, e.g. rejected)."""

    def __init__(self) -> None:
        self._chunks: dict[int, np.ndarray] = {}  # first row of a slice -> its features

    def open_slice(self, start: int, stop: int) -> None:
        self._chunks[start] = np.full((stop - start, len(FEATURES)), np.nan)

    def add(self, start: int, rows: np.ndarray, features: np.ndarray) -> None:
        """Features of ``rows`` (history positions inside the slice that begins at ``start``)."""
        self._chunks[start][rows - start] = features

    def rows(self, start: int, stop: int) -> np.ndarray:
        """The feature matrix of history rows ``start .. stop-1``."""
        parts = []
        for first in sorted(self._chunks):
            chunk = self._chunks[first]
            lo, hi = max(start, first), min(stop, first + len(chunk))
            if lo < hi:
                parts.append(chunk[lo - first : hi - first])
        rows = np.vstack(parts) if parts else np.empty((0, len(FEATURES)))
        if len(rows) != stop - start:
            raise RuntimeError(f"features of rows {start}..{stop} were not all kept")
        return rows

    def forget_before(self, row: int) -> None:
        """Drop slices that end at or before ``row`` (no future training window needs them)."""
        for first in [f for f, c in self._chunks.items() if f + len(c) <= row]:
            del self._chunks[first]


def released_until(timestamps: np.ndarray, at_ms: int, label_delay_ms: int) -> int:
    """How many rows (in time order) have their label known at ``at_ms``: ``event time + delay
    <= at_ms``, and the transaction strictly earlier (with no delay, a label is known once its
    transaction has been scored, never for its own score)."""
    return int(np.searchsorted(timestamps, at_ms - max(label_delay_ms, 1), side="right"))


@dataclass
class TrainingPlan:
    """When and on what the backtest trains."""

    label_delay_ms: int
    train_window_ms: int | None  # None: every released label

    def released_rows(self, history: History, at_ms: int) -> tuple[int, int]:
        """History rows ``[lo, hi)`` whose labels are released at ``at_ms`` (in the window)."""
        ts = history.timestamp
        hi = released_until(ts, at_ms, self.label_delay_ms)
        lo = 0
        if self.train_window_ms is not None:
            cutoff = at_ms - self.label_delay_ms - self.train_window_ms
            lo = int(np.searchsorted(ts, cutoff, side="right"))
        return lo, hi


@dataclass
class TrainedModel:
    artifact: ModelArtifact
    summary: dict[str, Any]


def train_at(
    at_ms: int,
    plan: TrainingPlan,
    history: History,
    log: FeatureLog,
    settings: Settings,
    initial: bool,
) -> TrainedModel:
    """A model from the labels released by ``at_ms``; UsageError (initial) or ModelError."""
    started = time.perf_counter()
    lo, hi = plan.released_rows(history, at_ms)
    features = log.rows(lo, hi)
    scored = ~np.isnan(features).all(axis=1)
    labels = history.labels[lo:hi][scored]
    data = Replayed(features[scored], labels, history.timestamp[lo:hi][scored])
    try:
        artifact, report = train(
            data, settings.detector.band_rates, HOLDOUT, source=f"backtest@{at_ms}"
        )
    except ModelError as exc:
        if not initial:
            raise
        raise UsageError(f"{exc}; {not_enough_hint(plan)}") from None
    summary = {
        "version": artifact.version,
        "trained_at": at_ms,
        "rows": len(labels),
        "fraud": int(labels.sum()),
        "holdout_roc_auc": report.auc,
        "holdout_average_precision": report.average_precision,
        "bands": artifact.bands.to_json(),
        "seconds": round(time.perf_counter() - started, 3),
    }
    return TrainedModel(artifact, summary)


def not_enough_hint(plan: TrainingPlan) -> str:
    return (
        f"with --label-delay {format_duration(plan.label_delay_ms / 1000)}, only transactions "
        "older than that have labels when the warmup ends: use a shorter --label-delay or a "
        "longer --warmup"
    )
