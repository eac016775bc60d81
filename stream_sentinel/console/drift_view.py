"""The Drift page: what the drift service keeps in DB4, per model version it follows.

It reads through the code `drift status` and `drift report` use
(:class:`~stream_sentinel.learning.drift.records.DriftRecords` and the helpers of
:mod:`~stream_sentinel.learning.drift.status`), the retrain requests in DB3 and the
``drift-group``'s offsets; it writes nothing. Per version: its reference, its latest checked
windows with every monitor (alarms first, then by p-value), the prediction monitors of the
latest window against the reference, its open alarms (those of its latest checked window) and
its alarm history by window, with whether the window asked the learner for a retrain.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from stream_sentinel.console.sources import ConsoleSources
from stream_sentinel.learning.drift.checks import MonitorValue, WindowCheck
from stream_sentinel.learning.drift.events import DriftEvent
from stream_sentinel.learning.drift.hours import clock_of, idle_partitions
from stream_sentinel.learning.drift.progress import VersionProgress
from stream_sentinel.learning.drift.records import DriftRecords
from stream_sentinel.learning.drift.service import drift_group
from stream_sentinel.learning.drift.status import latest_checks, retrain_windows, waiting_line
from stream_sentinel.learning.drift.svg import paired_bars
from stream_sentinel.learning.registry import ModelRegistry
from stream_sentinel.learning.retrain_requests import requests_since
from stream_sentinel.logic.drift.reference import SCORE_BINS, Reference
from stream_sentinel.logic.drift.window import WindowCounts
from stream_sentinel.ops.status import group_status
from stream_sentinel.transport.topics import DECISION_FEATURES, LAYOUT

LATEST_WINDOWS = 6  # checked windows shown per version, newest first
TOP_FEATURES = 5  # features in the PSI-over-time chart
HISTORY = 100  # alarmed windows shown per version
#: The page reads the checks and alarms of this many days before the drift clock (the newest
#: event time the service counted), never the whole 90 days DB4 keeps: `drift report` does.
PAGE_DAYS = 7
DAY_MS = 86_400_000
SCORE_SLOTS = len(SCORE_BINS.edges) + 1  # the score histogram's bins on [0, 1]
NEVER_RAN = (
    "Drift has never run on this stack: nothing is in Redis DB4. Start it with "
    "`stream-sentinel drift run`: it reads decision-features as drift-group, builds each "
    "model version's reference from the rows it scored, then checks every event-time hour."
)


def page_start(records: DriftRecords) -> int:
    """The oldest window start the page reads: PAGE_DAYS before the drift clock."""
    marks = records.marks()
    return max(max(marks.values()) - PAGE_DAYS * DAY_MS, 0) if marks else 0


def drift_page(sources: ConsoleSources) -> dict[str, Any]:
    """Everything the Drift page shows (its JSON twin is the same dict)."""
    records = DriftRecords(sources.state)
    since = page_start(records)
    checks, alarms = records.checks(since), records.alarms(since)
    progress = records.progress()
    aliases = ModelRegistry(sources.state, sources.clock).aliases()
    asked = retrain_windows(requests_since(sources.state, 0))  # a capped list
    latest, _ = latest_checks(checks)
    champion = aliases.get("champion")
    names = sorted(set(progress) | set(latest), key=lambda v: (v != champion, v))
    minimum = sources.settings.drift.min_reference_rows
    versions = []
    for name in names:
        mine = [c for c in checks if c.model_version == name]
        found = VersionFacts(name, progress.get(name), mine)
        versions.append(
            _version(records, found, [a for a in alarms if a.model_version == name], asked)
            | {
                "aliases": sorted(a for a, v in aliases.items() if v == name),
                "champion": name == champion,
                "state": None if name in latest else _waiting(name, progress, minimum),
            }
        )
    return {
        "ran": bool(progress or checks),
        "how_to_start": None if progress or checks else NEVER_RAN,
        "alpha": sources.settings.drift.alpha,
        "versions": versions,
        "group": _group(sources),
        "clock": _clock(sources, records.marks()),
    }


@dataclass(frozen=True, slots=True)
class VersionFacts:
    """One version's progress and checks (oldest first)."""

    version: str
    progress: VersionProgress | None
    checks: list[WindowCheck]


def _waiting(name: str, progress: Mapping[str, VersionProgress], minimum: int) -> str | None:
    state = progress.get(name)
    return None if state is None else waiting_line(name, state, minimum)


def _version(
    records: DriftRecords,
    facts: VersionFacts,
    alarms: Sequence[DriftEvent],
    asked: set[tuple[str, int]],
) -> dict[str, Any]:
    newest = facts.checks[-1] if facts.checks else None
    reference = records.reference(facts.version) if newest is not None else None
    window = None
    if newest is not None:
        [window] = records.windows([(facts.version, newest.window_start)])
    open_alarms = (
        [] if newest is None else [a for a in alarms if a.window_start == newest.window_start]
    )
    return {
        "version": facts.version,
        "reference": _reference(facts.progress, newest),
        "windows_checked": len(facts.checks),
        "latest": [window_json(c, asked) for c in reversed(facts.checks[-LATEST_WINDOWS:])],
        "prediction": None
        if newest is None or reference is None
        else prediction(reference, window, newest),
        "open_alarms": [alarm_json(a) for a in open_alarms],
        "history": alarm_history(alarms, asked)[:HISTORY],
    }


def _reference(state: VersionProgress | None, newest: WindowCheck | None) -> dict[str, Any]:
    rows = None if state is None else state.reference_size
    if rows is None and newest is not None:
        rows = newest.reference_size
    return {
        "built": (state is not None and state.reference_built) or newest is not None,
        "rows": rows,
        "start_ms": None if state is None else state.reference_start_ms,
        "end_ms": None if state is None else state.reference_end_ms,
        "rows_so_far": None if state is None else sum(state.reference_rows.values()),
        "next_window_ms": None if state is None else state.next_ms,
    }


def _order(value: MonitorValue) -> tuple[bool, float, str]:
    """Alarms first, then the smallest p-value (unknown last), then by name."""
    p = 2.0 if value.p_value is None else value.p_value
    return (not value.alarm, p, value.subject)


def value_json(value: MonitorValue) -> dict[str, Any]:
    return {
        "subject": value.subject,
        "monitor": value.monitor,
        "feature": value.feature,
        "statistic": value.statistic,
        "value": value.value,
        "threshold": value.threshold,
        "p_value": value.p_value,
        "alarm": value.alarm,
    }


def window_json(check: WindowCheck, asked: set[tuple[str, int]]) -> dict[str, Any]:
    """One checked window: its sizes and every monitor, alarms first."""
    values = sorted(check.values, key=_order)
    return {
        "start_ms": check.window_start,
        "end_ms": check.window_end,
        "rows": check.window_size,
        "reference_rows": check.reference_size,
        "alarms": sum(v.alarm for v in values),
        "retrain_requested": (check.model_version, check.window_start) in asked,
        "values": [value_json(v) for v in values],
    }


def alarm_json(alarm: DriftEvent) -> dict[str, Any]:
    return {
        "event_id": alarm.event_id,
        "subject": alarm.subject,
        "monitor": alarm.monitor,
        "feature": alarm.feature,
        "statistic": alarm.statistic,
        "value": alarm.value,
        "threshold": alarm.threshold,
        "p_value": alarm.p_value,
        "severity": alarm.severity,
        "window_start_ms": alarm.window_start,
        "detected_ms": alarm.detected_time,
    }


def alarm_history(
    alarms: Sequence[DriftEvent], asked: set[tuple[str, int]]
) -> list[dict[str, Any]]:
    """The alarms by window, newest window first: its monitors, features, worst severity and
    whether the window asked the learner for a retrain."""
    by_window: dict[int, list[DriftEvent]] = {}
    for alarm in alarms:
        by_window.setdefault(alarm.window_start, []).append(alarm)
    history = []
    for start, found in sorted(by_window.items(), reverse=True):
        history.append(
            {
                "window_start_ms": start,
                "detected_ms": min(a.detected_time for a in found),
                "alarms": len(found),
                "monitors": sorted({a.monitor for a in found}),
                "features": sorted({a.feature for a in found if a.feature is not None}),
                "severity": "critical"
                if any(a.severity == "critical" for a in found)
                else "warning",
                "retrain_requested": (found[0].model_version, start) in asked,
            }
        )
    return history


def _shares(counts: Sequence[int]) -> list[float]:
    total = sum(counts) or 1
    return [c / total for c in counts]


def prediction(
    reference: Reference, window: WindowCounts | None, check: WindowCheck
) -> dict[str, Any]:
    """The latest window's score histogram and alert rates per band against the reference,
    and its prediction monitors (all but the features)."""
    monitors = [value_json(v) for v in sorted(check.values, key=_order) if v.monitor != "feature"]
    found: dict[str, Any] = {
        "labels": SCORE_BINS.labels()[:SCORE_SLOTS],
        "reference_shares": _shares(reference.score_counts[:SCORE_SLOTS]),
        "window_shares": None,
        "bands": [],
        "monitors": monitors,
    }
    if window is None:
        return found  # the window's counts have expired (kept 30 days)
    found["window_shares"] = _shares(window.score_counts[:SCORE_SLOTS])
    for band, profile in sorted(reference.bands.items(), key=lambda b: b[1].threshold):
        found["bands"].append(
            {
                "band": band,
                "threshold": profile.threshold,
                "reference_rate": reference.alert_rate(band),
                "window_rate": window.band_alerts.get(band, 0) / window.size
                if window.size
                else 0.0,
                "window_alerts": window.band_alerts.get(band, 0),
            }
        )
    return found


def score_chart(found: Mapping[str, Any] | None) -> str | None:
    """The score histogram, reference beside the window (the drift report's inline SVG)."""
    if found is None or found["window_shares"] is None:
        return None
    return paired_bars(found["labels"], found["reference_shares"], found["window_shares"])


def psi_series(sources: ConsoleSources, version: str) -> dict[str, Any]:
    """The PSI of the version's top features over its checked windows (for uPlot: times in
    seconds, one list per feature); top: the highest PSI over the period."""
    records = DriftRecords(sources.state)
    checks = [c for c in records.checks(page_start(records)) if c.model_version == version]
    series: dict[str, list[float | None]] = {}
    for i, found in enumerate(checks):
        for value in found.values:
            if value.monitor == "feature" and value.feature is not None:
                series.setdefault(value.feature, [None] * len(checks))[i] = value.value
    top = sorted(series, key=lambda f: (-max(v for v in series[f] if v is not None), f))
    return {
        "version": version,
        "time": [c.window_start // 1000 for c in checks],
        "features": {name: series[name] for name in top[:TOP_FEATURES]},
        "alarms": [sum(v.alarm for v in c.values) for c in checks],
    }


def _group(sources: ConsoleSources) -> dict[str, Any]:
    group = drift_group(sources.settings.drift, sources.topics)
    return group_status(
        sources.admin, sources.state, group, sources.topics.decision_features
    ).as_dict()


def _clock(sources: ConsoleSources, marks: Mapping[int, int]) -> dict[str, Any] | None:
    """The service's event-time clock and each input partition's mark (idle: left out)."""
    if not marks:
        return None
    partitions = LAYOUT[DECISION_FEATURES][0]
    idle_ms = sources.settings.drift.idle_partition_s * 1000
    idle = set(idle_partitions(marks, partitions, idle_ms))
    return {
        "clock_ms": clock_of(marks, partitions, idle_ms),
        "partitions": [
            {"partition": p, "mark_ms": marks.get(p), "idle": p in idle} for p in range(partitions)
        ],
    }
