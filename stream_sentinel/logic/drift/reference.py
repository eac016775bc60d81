"""The reference profile: what a model's training window looked like, computed once.

It holds, per feature, the reference's bins and its counts in them (missing values in their own
slot, so the missing share is ``counts[-1] / size``); the score histogram; and per risk band the
alert count and the mean and variance of the scores that alerted (what the label-free estimate
compares against). Everything is plain numbers, so :meth:`Reference.to_json` gives a dict that
JSON stores exactly and :meth:`Reference.from_json` gives back an equal profile.

Which features are categories: ``channel`` (five codes) and the four 0/1 flags
(``card_present``, ``prev_card_present``, ``new_merchant``, ``new_device``), which featurize
builds from codes and booleans. Every other feature is numeric, counts included: their quantile
edges collapse where the values repeat, so a count that is mostly 0 gets a bin for 0 alone.

The score histogram has fixed edges (twenty equal bins on [0, 1]): scores are probabilities,
and fixed edges keep histograms of different models comparable.

The reference should come from a window the model was not fitted on (its validation window):
scores on the rows a model learned from are more confident than it will ever be live.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from stream_sentinel.logic.drift.bins import (
    DEFAULT_QUANTILE_BINS,
    Binning,
    QuantileBins,
    binning_from_json,
    category_bins,
    count,
    quantile_bins,
)
from stream_sentinel.logic.drift.dispersion import Dispersion
from stream_sentinel.logic.features import FEATURES

#: Features whose values are codes or flags, counted per value rather than binned by quantile.
CATEGORICAL: frozenset[str] = frozenset(
    {"channel", "card_present", "prev_card_present", "new_merchant", "new_device"}
)
#: Interior edges of the score histogram: twenty equal-width bins on [0, 1].
SCORE_BINS = QuantileBins(tuple(round(0.05 * i, 2) for i in range(1, 20)))


@dataclass(frozen=True, slots=True)
class FeatureProfile:
    """One feature's bins and the reference's count in each slot."""

    binning: Binning
    counts: tuple[int, ...]

    @property
    def missing_share(self) -> float:
        total = sum(self.counts)
        return self.counts[-1] / total if total else 0.0


@dataclass(frozen=True, slots=True)
class BandProfile:
    """A risk band's threshold, how many reference scores reached it, and their mean and
    variance (the expected precision at the threshold, and its spread per alerted score); None
    when no reference score reached it (JSON has no NaN)."""

    threshold: float
    alerts: int
    score_mean: float | None
    score_variance: float | None


@dataclass(frozen=True, slots=True)
class Reference:
    """The reference profile of one model version (see the module docstring)."""

    model_version: str
    size: int
    features: Mapping[str, FeatureProfile]
    score_counts: tuple[int, ...]
    bands: Mapping[str, BandProfile]
    #: each monitor's dispersion measured on the reference's own hours, by subject
    #: (``feature[amount]``, ``score-ks``); empty: the theory's null distributions
    calibration: Mapping[str, Dispersion] = field(default_factory=dict)

    def alert_rate(self, band: str) -> float:
        return self.bands[band].alerts / self.size if self.size else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "model_version": self.model_version,
            "size": self.size,
            "features": {
                name: {"binning": p.binning.to_json(), "counts": list(p.counts)}
                for name, p in self.features.items()
            },
            "score_counts": list(self.score_counts),
            "bands": {name: _band_json(band) for name, band in self.bands.items()},
            "calibration": {name: d.to_json() for name, d in self.calibration.items()},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Reference:
        features = {
            name: FeatureProfile(binning_from_json(p["binning"]), _ints(p["counts"]))
            for name, p in data["features"].items()
        }
        bands = {name: BandProfile(**band) for name, band in data["bands"].items()}
        counts = _ints(data["score_counts"])
        # references stored before the calibration have none: the theory's null holds for them
        calibration = {
            name: Dispersion.from_json(d) for name, d in data.get("calibration", {}).items()
        }
        version, size = str(data["model_version"]), int(data["size"])
        return cls(version, size, features, counts, bands, calibration)


def _ints(values: Sequence[Any]) -> tuple[int, ...]:
    return tuple(int(v) for v in values)


def _band_json(band: BandProfile) -> dict[str, Any]:
    return {
        "threshold": band.threshold,
        "alerts": band.alerts,
        "score_mean": band.score_mean,
        "score_variance": band.score_variance,
    }


def build_reference(
    model_version: str,
    features: np.ndarray,
    scores: np.ndarray,
    bands: Mapping[str, float],
    names: Sequence[str] = FEATURES,
    bins: int = DEFAULT_QUANTILE_BINS,
) -> Reference:
    """The profile of a feature matrix ``[rows, len(names)]``, its scores and band thresholds
    (each band's minimum score, as ``Bands.to_json`` gives them)."""
    profiles = {
        name: feature_profile(features[:, column], name in CATEGORICAL, bins)
        for column, name in enumerate(names)
    }
    score_counts = tuple(int(c) for c in count(SCORE_BINS, scores))
    band_profiles = {name: band_profile(scores, t) for name, t in bands.items()}
    return Reference(model_version, len(scores), profiles, score_counts, band_profiles)


def feature_profile(values: np.ndarray, categorical: bool, bins: int) -> FeatureProfile:
    binning = category_bins(values) if categorical else quantile_bins(values, bins)
    return FeatureProfile(binning, tuple(int(c) for c in count(binning, values)))


def band_profile(scores: np.ndarray, threshold: float) -> BandProfile:
    alerted = scores[scores >= threshold]
    if len(alerted) == 0:
        return BandProfile(float(threshold), 0, None, None)
    mean, variance = float(alerted.mean()), float(alerted.var())
    return BandProfile(float(threshold), len(alerted), mean, variance)
