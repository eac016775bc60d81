"""A window's counts in a reference's bins: what the monitors compare with the reference.

Windows are event-time hours (``start_ms`` inclusive, ``end_ms`` exclusive), so a late
transaction counts in the hour it happened, not the hour it arrived. Counts only ever add up,
so the windows that several detector processes (one per partition) count for the same hour
merge into the hour's window by adding them, in any order.

>>> from stream_sentinel.logic.drift.bins import QuantileBins
>>> from stream_sentinel.logic.drift.reference import FeatureProfile, Reference
>>> bins = QuantileBins((10.0,))
>>> reference = Reference("v1", 4, {"amount": FeatureProfile(bins, (2, 2, 0, 0))},
...                       (4,) + (0,) * 19, {})
>>> window = WindowCounts.empty(reference, 0, HOUR_MS)
>>> window = window.added(reference, np.array([[5.0], [50.0], [np.nan]]), np.zeros(3))
>>> window.features["amount"], window.size
((1, 1, 0, 1), 3)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from stream_sentinel.errors import SentinelError
from stream_sentinel.logic.drift.bins import count
from stream_sentinel.logic.drift.reference import SCORE_BINS, Reference
from stream_sentinel.logic.features import FEATURES

HOUR_MS = 3_600_000


class WindowMismatch(SentinelError):
    """Two windows that cover different hours or references were asked to merge."""


@dataclass(frozen=True, slots=True)
class WindowCounts:
    """Counts of one event-time window in one reference's bins."""

    model_version: str
    start_ms: int
    end_ms: int
    size: int
    features: Mapping[str, tuple[int, ...]]
    score_counts: tuple[int, ...]
    score_sum: float  # all scores, for the label-free recall estimate
    band_alerts: Mapping[str, int]
    band_score_sums: Mapping[str, float]  # sum of alerted scores, for the label-free estimate

    @classmethod
    def empty(cls, reference: Reference, start_ms: int, end_ms: int) -> WindowCounts:
        features = {name: (0,) * p.binning.size for name, p in reference.features.items()}
        bands = dict.fromkeys(reference.bands, 0)
        sums = dict.fromkeys(reference.bands, 0.0)
        scores = (0,) * SCORE_BINS.size
        version = reference.model_version
        return cls(version, start_ms, end_ms, 0, features, scores, 0.0, bands, sums)

    def added(
        self,
        reference: Reference,
        rows: np.ndarray,
        scores: np.ndarray,
        names: Sequence[str] = FEATURES,
    ) -> WindowCounts:
        """This window with a batch of feature rows ``[k, len(names)]`` and their scores added."""
        column = {name: i for i, name in enumerate(names)}
        batch = WindowCounts(
            self.model_version,
            self.start_ms,
            self.end_ms,
            len(scores),
            {
                name: _counts(count(p.binning, rows[:, column[name]]))
                for name, p in reference.features.items()
            },
            _counts(count(SCORE_BINS, scores)),
            float(scores.sum()),
            {name: int((scores >= b.threshold).sum()) for name, b in reference.bands.items()},
            {
                name: float(scores[scores >= b.threshold].sum())
                for name, b in reference.bands.items()
            },
        )
        return self.merged(batch)

    def merged(self, other: WindowCounts) -> WindowCounts:
        """The window holding both windows' counts (same hour, same reference)."""
        mine = (self.model_version, self.start_ms, self.end_ms)
        theirs = (other.model_version, other.start_ms, other.end_ms)
        if mine != theirs:
            raise WindowMismatch(
                f"cannot merge window {theirs} into {mine}: merge only the counts of one hour "
                "against one model version's reference"
            )
        return WindowCounts(
            *mine,
            self.size + other.size,
            {name: _add(c, other.features[name]) for name, c in self.features.items()},
            _add(self.score_counts, other.score_counts),
            self.score_sum + other.score_sum,
            {name: c + other.band_alerts[name] for name, c in self.band_alerts.items()},
            {name: s + other.band_score_sums[name] for name, s in self.band_score_sums.items()},
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "model_version": self.model_version,
            "start_ms": self.start_ms,
            "end_ms": self.end_ms,
            "size": self.size,
            "features": {name: list(c) for name, c in self.features.items()},
            "score_counts": list(self.score_counts),
            "score_sum": self.score_sum,
            "band_alerts": dict(self.band_alerts),
            "band_score_sums": dict(self.band_score_sums),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> WindowCounts:
        return cls(
            str(data["model_version"]),
            int(data["start_ms"]),
            int(data["end_ms"]),
            int(data["size"]),
            {name: _counts(c) for name, c in data["features"].items()},
            _counts(data["score_counts"]),
            float(data["score_sum"]),
            {name: int(c) for name, c in data["band_alerts"].items()},
            {name: float(s) for name, s in data["band_score_sums"].items()},
        )


def _counts(values: Any) -> tuple[int, ...]:
    return tuple(int(v) for v in values)


def _add(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(x + y for x, y in zip(a, b, strict=True))


def hour_start(ts_ms: int) -> int:
    """The start of the event-time hour holding ``ts_ms``."""
    return ts_ms - ts_ms % HOUR_MS


def hourly_windows(
    reference: Reference,
    ts_ms: np.ndarray,
    rows: np.ndarray,
    scores: np.ndarray,
    names: Sequence[str] = FEATURES,
) -> dict[int, WindowCounts]:
    """A batch split into the event-time hours its transactions happened in, by hour start."""
    starts = ts_ms - ts_ms % HOUR_MS
    windows = {}
    for start in np.unique(starts).tolist():
        mask = starts == start
        empty = WindowCounts.empty(reference, int(start), int(start) + HOUR_MS)
        windows[int(start)] = empty.added(reference, rows[mask], scores[mask], names)
    return windows
