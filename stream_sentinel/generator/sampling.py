"""Drawing indexes in proportion to weights, in expected O(1) per draw.

A cumulative-weight table plus a guide table (Chen & Asau's method): the guide says where in the
table each of ``m`` equal slices of the total starts, so a draw starts its search next to its
answer and takes a step or two, vectorised over the whole batch. Same answers as
``searchsorted(cdf, u * total, side="right")``, several times faster on big populations.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

SMALL = 2048  # below this many weights a binary search stays in cache and wins


class WeightedIndex:
    def __init__(self, weights: npt.ArrayLike, guide_factor: int = 4) -> None:
        self.cdf = np.cumsum(np.asarray(weights, dtype=np.float64))
        self.total = float(self.cdf[-1])
        slices = max(1, guide_factor * len(self.cdf))
        edges = np.arange(slices) * (self.total / slices)
        self._guide = np.searchsorted(self.cdf, edges, side="right").astype(np.int64)
        self._slices = slices

    def __len__(self) -> int:
        return len(self.cdf)

    def weight(self, index: npt.NDArray[np.integer]) -> npt.NDArray[np.float64]:
        previous = np.where(index > 0, self.cdf[np.maximum(index - 1, 0)], 0.0)
        return np.asarray(self.cdf[index] - previous)

    def draw(self, rng: np.random.Generator, count: int) -> npt.NDArray[np.int32]:
        """``count`` indexes, index i with probability weight[i] / total."""
        return self.lookup(rng.random(count))

    def lookup(self, uniform: npt.NDArray[np.float64]) -> npt.NDArray[np.int32]:
        """The index whose cumulative slice contains each ``uniform * total``."""
        target = uniform * self.total
        last = len(self.cdf) - 1
        if last < SMALL:
            return np.minimum(np.searchsorted(self.cdf, target, side="right"), last).astype(
                np.int32
            )
        index = self._guide[np.minimum((uniform * self._slices).astype(np.int64), self._slices - 1)]
        pending = np.flatnonzero(self.cdf[np.minimum(index, last)] <= target)
        while len(pending):
            index[pending] += 1
            still = (index[pending] < last) & (
                self.cdf[np.minimum(index[pending], last)] <= target[pending]
            )
            pending = pending[still]
        return np.minimum(index, last).astype(np.int32)
