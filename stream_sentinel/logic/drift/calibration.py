"""The reference's own empirical null: each of its hours checked against the rest, once.

A reference pooled over a day is compared with single hours, and an hour is not a fresh sample
of the day (traffic follows the time of day; a user's payments in an hour depend on each
other). How much wider than the theory each monitor's null distribution is, is measured where
nothing changed by definition: in the reference itself. Each hour of the reference rows
becomes a window, checked by every monitor against a reference of the *other* hours (same
bins, the hour's counts taken out), and each monitor's chi-square-scale statistics over the
hours give its dispersion (:mod:`~stream_sentinel.logic.drift.dispersion`). This runs once,
when the reference is built, and the dispersions are stored with it: never per check.

The held-out hour is left out of the rest so that it is compared with other hours, as a live
hour is (a live hour shares at most a twenty-fourth of the reference with its hour of day).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import replace

import numpy as np

from stream_sentinel.logic.drift.dispersion import (
    Dispersion,
    estimate_dispersion,
    hour_cap,
    null_median,
    robust_spread,
)
from stream_sentinel.logic.drift.monitors import raw_findings
from stream_sentinel.logic.drift.reference import (
    FeatureProfile,
    Reference,
    band_profile,
    build_reference,
)
from stream_sentinel.logic.drift.thresholds import DEFAULT_ALPHA
from stream_sentinel.logic.drift.window import HOUR_MS, WindowCounts
from stream_sentinel.logic.features import FEATURES


def calibrated_reference(
    model_version: str,
    features: np.ndarray,
    scores: np.ndarray,
    ts_ms: np.ndarray,
    bands: Mapping[str, float],
    names: Sequence[str] = FEATURES,
) -> Reference:
    """The reference of the rows (as :func:`build_reference`) with its monitors' dispersions
    measured over the event-time hours ``ts_ms`` puts the rows in."""
    reference = build_reference(model_version, features, scores, bands, names)
    found = calibration(reference, features, scores, ts_ms, names)
    return replace(reference, calibration=found)


def calibration(
    reference: Reference,
    features: np.ndarray,
    scores: np.ndarray,
    ts_ms: np.ndarray,
    names: Sequence[str] = FEATURES,
) -> dict[str, Dispersion]:
    """Each monitor's dispersion over the hours of the reference's rows (module docstring),
    each hour's statistic capped (:func:`~stream_sentinel.logic.drift.dispersion.hour_cap`);
    a monitor checked in fewer than two hours gets none (and one measured on fewer than
    :data:`~stream_sentinel.logic.drift.dispersion.MIN_HOURS` is stored but not applied)."""
    statistics: dict[str, list[float]] = defaultdict(list)
    dofs: dict[str, list[int]] = defaultdict(list)
    scales: dict[str, str] = {}
    starts = np.asarray(ts_ms) - np.asarray(ts_ms) % HOUR_MS
    hours = np.unique(starts).tolist()
    for start in hours:
        inside = starts == start
        window = WindowCounts.empty(reference, int(start), int(start) + HOUR_MS)
        window = window.added(reference, features[inside], scores[inside], names)
        rest = without(reference, window, scores[~inside])
        for finding in raw_findings(rest, window, DEFAULT_ALPHA):
            statistics[finding.subject].append(finding.chi2)
            dofs[finding.subject].append(finding.dof)
            scales[finding.subject] = finding.scale
    rows = len(starts) / max(len(hours), 1)  # the mean rows of a reference hour
    found = {
        s: estimate_dispersion(capped(statistics[s], dofs[s], scales[s]), dofs[s], rows)
        for s in statistics
    }
    return {s: d for s, d in found.items() if d is not None}


def capped(statistics: Sequence[float], dofs: Sequence[int], scale: str) -> list[float]:
    """The hours' statistics, each at most its cap (the theory's far quantile times the hours'
    robust spread): a burst hour counts as a very unusual hour, not as an infinite one."""
    spread = robust_spread(
        [x / null_median(k, scale) for x, k in zip(statistics, dofs, strict=True)]
    )
    return [min(x, hour_cap(k, scale, spread)) for x, k in zip(statistics, dofs, strict=True)]


def without(reference: Reference, window: WindowCounts, rest_scores: np.ndarray) -> Reference:
    """The reference with one of its own windows' rows taken out (``rest_scores`` the scores
    left, for the bands' alerted-score mean and variance)."""
    profiles = {
        name: FeatureProfile(p.binning, _minus(p.counts, window.features[name]))
        for name, p in reference.features.items()
    }
    bands = {name: band_profile(rest_scores, b.threshold) for name, b in reference.bands.items()}
    return Reference(
        reference.model_version,
        reference.size - window.size,
        profiles,
        _minus(reference.score_counts, window.score_counts),
        bands,
    )


def _minus(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(x - y for x, y in zip(a, b, strict=True))
