"""How one feature's values fall into bins: quantile edges for numbers, a list for categories.

Every binning has two slots after its value bins: *unseen* (a category the reference never
had; always empty for numbers) and *missing* (NaN). Counting NaN as its own bin lets one test
see a change in the missing share together with a change in the values.

>>> bins = QuantileBins((1.0, 3.0))
>>> bins.assign(np.array([0.5, 1.0, 2.0, 3.0, 9.0, np.nan])).tolist()
[0, 0, 1, 1, 2, 4]
>>> CategoryBins((0.0, 1.0)).assign(np.array([1.0, 0.0, 7.0, np.nan])).tolist()
[1, 0, 2, 3]
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np

#: Value bins a numeric feature gets at most (fewer where quantiles coincide).
DEFAULT_QUANTILE_BINS = 10


@dataclass(frozen=True, slots=True)
class QuantileBins:
    """Right-closed bins ``(-inf, e0], (e0, e1], ..., (e_last, inf)``, then unseen and missing."""

    edges: tuple[float, ...]

    @property
    def size(self) -> int:
        return len(self.edges) + 3

    def assign(self, values: np.ndarray) -> np.ndarray:
        index = np.searchsorted(np.asarray(self.edges), values, side="left")
        return np.where(np.isnan(values), self.size - 1, index).astype(np.int64)

    def labels(self) -> list[str]:
        bounds = ["-inf", *(repr(e) for e in self.edges), "inf"]
        values = [f"({lo}, {hi}]" for lo, hi in itertools.pairwise(bounds)]
        return [*values, "unseen", "missing"]

    def to_json(self) -> dict[str, Any]:
        return {"kind": "quantile", "edges": list(self.edges)}


@dataclass(frozen=True, slots=True)
class CategoryBins:
    """One bin per category the reference saw (sorted codes), then unseen and missing."""

    categories: tuple[float, ...]

    @property
    def size(self) -> int:
        return len(self.categories) + 2

    def assign(self, values: np.ndarray) -> np.ndarray:
        known = np.asarray(self.categories)
        index = np.searchsorted(known, values)
        safe = np.minimum(index, max(len(known) - 1, 0))
        seen = (index < len(known)) & (known[safe] == values) if len(known) else index < 0
        index = np.where(seen, index, len(known))
        return np.where(np.isnan(values), self.size - 1, index).astype(np.int64)

    def labels(self) -> list[str]:
        return [*(repr(c) for c in self.categories), "unseen", "missing"]

    def to_json(self) -> dict[str, Any]:
        return {"kind": "category", "categories": list(self.categories)}


Binning = QuantileBins | CategoryBins


def binning_from_json(data: dict[str, Any]) -> Binning:
    if data["kind"] == "quantile":
        return QuantileBins(tuple(float(e) for e in data["edges"]))
    return CategoryBins(tuple(float(c) for c in data["categories"]))


def quantile_bins(values: np.ndarray, bins: int = DEFAULT_QUANTILE_BINS) -> QuantileBins:
    """Edges at the reference's quantiles, taken from its own values so no reference bin is
    empty; repeated quantiles of a discrete feature collapse into one edge, and an edge at the
    maximum is dropped (it would leave the top bin empty)."""
    finite = values[~np.isnan(values)]
    if len(finite) == 0:
        return QuantileBins(())
    levels = np.linspace(0.0, 1.0, bins + 1)[1:-1]
    edges = np.unique(np.quantile(finite, levels, method="inverted_cdf"))
    return QuantileBins(tuple(float(e) for e in edges[edges < finite.max()]))


def category_bins(values: np.ndarray) -> CategoryBins:
    finite = values[~np.isnan(values)]
    return CategoryBins(tuple(float(c) for c in np.unique(finite)))


def count(binning: Binning, values: np.ndarray) -> np.ndarray:
    """How many of ``values`` fall in each of the binning's slots (int64, length ``size``)."""
    return np.bincount(binning.assign(values), minlength=binning.size).astype(np.int64)
