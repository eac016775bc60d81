"""One check of a window against its reference: every monitor, one correction, the alarms.

The monitors, each giving a p-value for "this window looks like the reference":

- ``feature`` (one per feature): PSI over the feature's bins, missing and unseen slots included;
  p-value from PSI's chi-square approximation (:mod:`~stream_sentinel.logic.drift.thresholds`).
- ``score-distribution``: PSI of the score histogram, and ``score-ks``: KS on the same counts.
- ``alert-rate`` (one per band): the share of scores at or above the band's threshold, by an
  exact two-sample binomial test (the reference's rate is a sample too).
- ``estimated-precision`` (one per band): the label-free expected precision against the
  reference's (:mod:`~stream_sentinel.logic.drift.estimate`).

Each p-value allows for the monitor's dispersion measured on the reference's own hours, when
the reference has one that applies (:mod:`~stream_sentinel.logic.drift.dispersion`): an F test
of the statistic scaled by it instead of the theory's chi-square (KS: its own asymptotic
distribution, widened). All of a window's p-values then form
one family corrected by Holm's procedure, so an unchanged window
raises any alarm at all with chance at most ``alpha``. An alarm's ``threshold`` is the critical
value of its statistic at the level Holm compared it with; ``severity`` is CRITICAL when the
p-value is a hundred times below that level (a change no sampling noise explains), else WARNING.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
from scipy import stats

from stream_sentinel.logic.drift.dispersion import (
    KS_MEAN,
    Dispersion,
    calibrated_critical,
    calibrated_p_value,
    chi2_scale,
)
from stream_sentinel.logic.drift.estimate import PrecisionCheck, check_precision
from stream_sentinel.logic.drift.reference import Reference
from stream_sentinel.logic.drift.statistics import (
    ks_counts,
    occupied,
    psi,
    two_proportion,
)
from stream_sentinel.logic.drift.thresholds import (
    DEFAULT_ALPHA,
    holm,
    holm_levels,
    psi_critical,
    psi_p_value,
    psi_scale,
)
from stream_sentinel.logic.drift.window import WindowCounts

#: How far below its level a p-value must be for a CRITICAL alarm.
CRITICAL_FACTOR = 100.0


class Severity(enum.StrEnum):
    WARNING = "warning"
    CRITICAL = "critical"


@dataclass(frozen=True, slots=True)
class Finding:
    """One monitor's result before the correction; ``critical`` maps a level to the value of
    the statistic a window must exceed at that level. ``chi2`` and ``dof`` are the statistic on
    the scale the dispersion multiplies (``scale``: the chi-square's, PSI's own or the
    p-value's with one degree of freedom; or KS's ``n D^2`` over its null mean), and
    ``statistic_at`` maps a value on that scale back to the monitor's own statistic."""

    monitor: str
    feature: str | None  # the feature or band the monitor looked at, None for the whole window
    statistic: str
    value: float
    p_value: float
    critical: Callable[[float], float]
    chi2: float
    dof: int
    statistic_at: Callable[[float], float]
    scale: str = "chi2"

    @property
    def subject(self) -> str:
        return self.monitor if self.feature is None else f"{self.monitor}[{self.feature}]"

    def calibrated(self, dispersion: Dispersion | None, rows: int) -> Finding:
        """This finding in a window of ``rows`` rows, its p-value and threshold allowing for
        ``dispersion`` when it applies (the theory's otherwise)."""
        if dispersion is None or not dispersion.applies():
            return self
        dof, scale, back = self.dof, self.scale, self.statistic_at

        def critical(level: float) -> float:
            return back(calibrated_critical(level, dof, dispersion, rows, scale))

        p_value = calibrated_p_value(self.chi2, dof, dispersion, rows, scale)
        return replace(self, p_value=p_value, critical=critical)


@dataclass(frozen=True, slots=True)
class DriftAlarm:
    """A monitor whose p-value fell below its Holm level in one window. ``p_value`` allows for
    the reference's measured dispersion where it applies (the F test, or KS on its own scale;
    the theory's test otherwise), and ``threshold`` is the statistic whose p-value, computed the
    same way, equals ``level``: ``value`` exceeds it for PSI, KS and the precision gap. For the
    exact alert-rate test, which has no other statistic, ``value`` is its own (uncalibrated)
    p-value and ``threshold`` the uncalibrated p-value it had to fall below (0.0 where that is
    below the smallest float: a dispersion so wide no p-value a float holds reaches it)."""

    monitor: str
    feature: str | None
    statistic: str
    value: float
    threshold: float
    p_value: float
    level: float
    window_start_ms: int
    window_end_ms: int
    reference_size: int
    window_size: int
    severity: Severity


def check_window(
    reference: Reference, window: WindowCounts, alpha: float = DEFAULT_ALPHA
) -> list[DriftAlarm]:
    """The alarms of one window against its reference, at family-wise level ``alpha``."""
    found = findings(reference, window, alpha)
    p_values = [f.p_value for f in found]
    levels = holm_levels(p_values, alpha)
    rejected = holm(p_values, alpha)
    return [
        _alarm(f, level, reference, window)
        for f, level, hit in zip(found, levels, rejected, strict=True)
        if hit
    ]


def findings(reference: Reference, window: WindowCounts, alpha: float) -> list[Finding]:
    """Every monitor's result for the window (none for an empty window), allowing for the
    reference's measured dispersions."""
    found = raw_findings(reference, window, alpha)
    calibration, rows = reference.calibration, window.size
    return [f.calibrated(calibration.get(f.subject), rows) for f in found]


def raw_findings(reference: Reference, window: WindowCounts, alpha: float) -> list[Finding]:
    """Every monitor's result under the theory's null distributions."""
    if window.size == 0 or reference.size == 0:
        return []
    m, n = reference.size, window.size
    found = [
        _psi_finding("feature", name, profile.counts, window.features[name], m, n)
        for name, profile in reference.features.items()
    ]
    found.append(
        _psi_finding("score-distribution", None, reference.score_counts, window.score_counts, m, n)
    )
    found.append(_ks_finding(reference.score_counts, window.score_counts, m, n))
    found.extend(_band_findings(reference, window, alpha))
    return found


def _psi_finding(
    monitor: str,
    name: str | None,
    reference: tuple[int, ...],
    window: tuple[int, ...],
    m: int,
    n: int,
) -> Finding:
    value = psi(_array(reference), _array(window))
    bins = int(occupied(_array(reference), _array(window)).sum())
    return Finding(
        monitor,
        name,
        "psi",
        value,
        psi_p_value(value, n, m, bins),
        lambda level: psi_critical(n, m, bins, level),
        value / psi_scale(n, m),
        bins - 1,
        lambda x: x * psi_scale(n, m),
    )


def _ks_finding(reference: tuple[int, ...], window: tuple[int, ...], m: int, n: int) -> Finding:
    values = slice(0, len(reference) - 2)  # the ordered bins; unseen and missing have no order
    result = ks_counts(_array(reference[values]), _array(window[values]))
    effective = round(m * n / (m + n))
    return Finding(
        "score-ks",
        None,
        "ks",
        result.statistic,
        result.p_value,
        lambda level: float(stats.kstwo.isf(level, effective)),
        effective * result.statistic**2 / KS_MEAN,
        1,
        lambda x: float(np.sqrt(x * KS_MEAN / effective)),
        "ks",
    )


def _band_findings(reference: Reference, window: WindowCounts, alpha: float) -> list[Finding]:
    found = []
    for name, band in reference.bands.items():
        alerts = window.band_alerts[name]
        rate = two_proportion(band.alerts, reference.size, alerts, window.size)
        p = rate.p_value
        x = chi2_scale(p)
        found.append(Finding("alert-rate", name, "binomial_p", p, p, _same_level, x, 1, _p_at))
        check = check_precision(band, alerts, window.band_score_sums[name], alpha)
        if check is not None:
            found.append(_precision_finding(name, check, alpha))
    return found


def _same_level(level: float) -> float:
    # an exact test has no statistic but its p-value: the threshold is the level itself
    return level


def _p_at(x: float) -> float:
    # the p-value with chi-square statistic x (one degree of freedom): the exact test's threshold
    return float(stats.chi2.sf(x, 1))


def _precision_finding(band: str, check: PrecisionCheck, alpha: float) -> Finding:
    spread = (check.high - check.reference_precision) / float(stats.norm.isf(alpha / 2))
    return Finding(
        "estimated-precision",
        band,
        "expected_precision_gap",
        abs(check.expected_precision - check.reference_precision),
        check.p_value,
        lambda level: float(stats.norm.isf(level / 2)) * spread,
        chi2_scale(check.p_value),
        1,
        lambda x: float(np.sqrt(x)) * spread,
    )


def _alarm(
    finding: Finding, level: float, reference: Reference, window: WindowCounts
) -> DriftAlarm:
    critical = finding.p_value * CRITICAL_FACTOR <= level
    return DriftAlarm(
        finding.monitor,
        finding.feature,
        finding.statistic,
        finding.value,
        finding.critical(level),
        finding.p_value,
        level,
        window.start_ms,
        window.end_ms,
        reference.size,
        window.size,
        Severity.CRITICAL if critical else Severity.WARNING,
    )


def _array(counts: tuple[int, ...]) -> np.ndarray:
    return np.asarray(counts, dtype=np.int64)
