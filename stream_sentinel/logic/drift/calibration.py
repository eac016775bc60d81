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

from stream_sentinel.logic.drift.dispersion import Dispersion, estimate_dispersion
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
    return replace(reference, calibration=calibration(reference, features, scores, ts_ms, names))


def calibration(
    reference: Reference,
    features: np.ndarray,
    scores: np.ndarray,
    ts_ms: np.ndarray,
    names: Sequence[str] = FEATURES,
) -> dict[str, Dispersion]:
    """Each monitor's dispersion over the hours of the reference's rows (module docstring);
    a monitor checked in fewer than two hours gets none."""
    statistics: dict[str, list[float]] = defaultdict(list)
    dofs: dict[str, list[int]] = defaultdict(list)
    starts = np.asarray(ts_ms) - np.asarray(ts_ms) % HOUR_MS
    for start in np.unique(starts).tolist():
        inside = starts == start
        window = WindowCounts.empty(reference, int(start), int(start) + HOUR_MS)
        window = window.added(reference, features[inside], scores[inside], names)
        rest = without(reference, window, scores[~inside])
        for finding in raw_findings(rest, window, DEFAULT_ALPHA):
            statistics[finding.subject].append(finding.chi2)
            dofs[finding.subject].append(finding.dof)
    found = {s: estimate_dispersion(statistics[s], dofs[s]) for s in statistics}
    return {subject: d for subject, d in found.items() if d is not None}


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
