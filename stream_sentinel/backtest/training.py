"""What the backtest's learner trains on: the features the detector itself computed.

Every scored batch hands its feature matrix to a :class:`FeatureLog` (the exact rows the model
scored, so training and live features are literally the same numbers, merchant label counters
included); after each slice the learner's intake takes them (:mod:`.learning`). A label is
released at ``event time + label delay`` (:func:`released_until`), never earlier.
"""

from __future__ import annotations

import numpy as np

from stream_sentinel.generator.durations import format_duration
from stream_sentinel.logic.features import FEATURES


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


def not_enough_hint(label_delay_ms: int) -> str:
    return (
        f"with --label-delay {format_duration(label_delay_ms / 1000)}, only transactions "
        "older than that have labels when the warmup ends: use a shorter --label-delay or a "
        "longer --warmup"
    )
