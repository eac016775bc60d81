"""`drift status`: each monitor's latest value against its threshold, per model version.

>>> from stream_sentinel.learning.drift.checks import MonitorValue, WindowCheck
>>> check = WindowCheck("m-1", 0, 3_600_000, 300, 6000,
...                     (MonitorValue("feature", "amount", "psi", 0.25, 0.05, True),))
>>> print("\\n".join(status_lines([check], [], {})))
model m-1: reference 6,000 rows; window 1970-01-01 00:00-01:00 UTC, 300 rows
  monitor                         statistic        value  threshold  alarm
  feature[amount]                 psi             0.2500     0.0500  ALARM
  alarms: 0 in 1 window checked
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from stream_sentinel.learning.drift.checks import WindowCheck
from stream_sentinel.learning.drift.events import DriftEvent
from stream_sentinel.learning.drift.hours import clock_of, idle_partitions
from stream_sentinel.learning.drift.kept import PerfProgress, StoredMonitors
from stream_sentinel.learning.drift.progress import VersionProgress
from stream_sentinel.learning.retrain_requests import RetrainRequest
from stream_sentinel.logic.drift.outcomes import MONITORS, detector_limit
from stream_sentinel.logic.drift.window import HOUR_MS

HEADER = f"  {'monitor':<32}{'statistic':<12}{'value':>10} {'threshold':>10}  alarm"


def status_lines(
    checks: Sequence[WindowCheck],
    alarms: Sequence[DriftEvent],
    progress: Mapping[str, VersionProgress],
    min_reference_rows: int = 1,
) -> list[str]:
    """Per version: the latest checked window's monitors, then its alarm count."""
    lines: list[str] = []
    latest, counted = latest_checks(checks)
    for version, state in progress.items():
        if version not in latest:
            lines.append(waiting_line(version, state, min_reference_rows))
    for version, found in sorted(latest.items()):
        lines += _version_lines(
            found, counted[version], [a for a in alarms if a.model_version == version]
        )
    return lines or ["no drift checks yet: `stream-sentinel drift run` reads decision-features"]


def latest_checks(checks: Sequence[WindowCheck]) -> tuple[dict[str, WindowCheck], dict[str, int]]:
    """Per version, its latest checked window and how many windows were checked."""
    latest: dict[str, WindowCheck] = {}
    counted: dict[str, int] = {}
    for found in checks:
        latest[found.model_version] = found
        counted[found.model_version] = counted.get(found.model_version, 0) + 1
    return latest, counted


def waiting_line(version: str, state: VersionProgress, minimum: int) -> str:
    """Why a version has no checked window: building its reference, too few rows, or none yet."""
    if not state.reference_built:
        return (
            f"model {version}: building its reference from {_time(state.reference_start_ms)} "
            f"to {_time(state.reference_end_ms)} UTC ({sum(state.reference_rows.values()):,} "
            "rows so far)"
        )
    if state.reference_size is not None and state.reference_size < minimum:
        return (
            f"model {version}: no reference: {state.reference_size:,} rows in its reference "
            f"hours ({_time(state.reference_start_ms)} to {_time(state.reference_end_ms)} UTC), "
            f"fewer than the {minimum:,} needed; its windows are not checked"
        )
    return f"model {version}: reference built, no window checked yet"


def _version_lines(check: WindowCheck, windows: int, alarms: Sequence[DriftEvent]) -> list[str]:
    span = f"{_time(check.window_start)}-{_time(check.window_end)[-5:]}"
    lines = [
        f"model {check.model_version}: reference {check.reference_size:,} rows; window "
        f"{span} UTC, {check.window_size:,} rows",
        HEADER,
    ]
    for value in check.values:
        mark = "ALARM" if value.alarm else "-"
        threshold = "-" if value.threshold is None else f"{value.threshold:.4f}"
        lines.append(
            f"  {value.subject:<32}{value.statistic:<12}{value.value:>10.4f} "
            f"{threshold:>10}  {mark}"
        )
    plural = "window" if windows == 1 else "windows"
    summary = f"  alarms: {len(alarms)} in {windows} {plural} checked"
    if alarms:
        last = alarms[-1]
        summary += f" (latest: {last.subject} at {_time(last.window_start)} UTC)"
    lines.append(summary)
    return lines


PERF_HEADER = (
    f"  {'monitor':<26}{'outcomes':>9}{'mean':>8}{'since alarm':>13}{'mean':>8}"
    f"  {'detector':<17}alarms"
)


def performance_lines(
    progress: PerfProgress, stored: Mapping[str, StoredMonitors], alarms: Sequence[DriftEvent]
) -> list[str]:
    """Per version, each labelled performance monitor: the outcomes it was fed and their mean,
    the outcomes and their mean since its latest detection (its current level), what its
    detector compares with, and its alarms; nothing before the first settled hour.

    >>> summary = {"outcomes": 1200, "mean": 0.05, "since_last_detection": 1200,
    ...            "mean_since_last_detection": 0.05, "detections": 0}
    >>> stored = {"m-1": StoredMonitors({}, None, {"adwin-error": summary})}
    >>> print("\\n".join(performance_lines(PerfProgress(8), stored, [])))
    performance (labelled outcomes settled to 1970-01-01 08:00 UTC):
    model m-1:
      monitor                    outcomes    mean  since alarm    mean  detector         alarms
      adwin-error                   1,200  0.0500        1,200  0.0500  delta 0.002      0
    """
    if progress.settled is None:
        return []  # no label read yet (or none due): nothing to show
    lines = [f"performance (labelled outcomes settled to {_time(progress.settled * HOUR_MS)} UTC):"]
    for version, state in stored.items():
        lines += [f"model {version}:", PERF_HEADER]
        for name in MONITORS:
            found = state.summary.get(name)
            if found is None:
                continue
            mine = [a for a in alarms if a.model_version == version and a.monitor == name]
            latest = f" (latest {_time(mine[-1].window_start)} UTC)" if mine else ""
            lines.append(
                f"  {name:<26}{found['outcomes']:>9,}{_mean(found['mean']):>8}"
                f"{found['since_last_detection']:>13,}{_mean(found['mean_since_last_detection']):>8}"
                f"  {detector_limit(name):<17}{len(mine)}{latest}"
            )
    return lines


def _mean(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def retrain_windows(requests: Sequence[RetrainRequest]) -> set[tuple[str, int]]:
    """(version, window start) of every window that asked the learner for a retrain: the
    drift service names its requests ``drift-{version}-{window start}``.

    >>> retrain_windows([RetrainRequest(5, "why", "drift", "drift-m-1-3600000"),
    ...                  RetrainRequest(6, "why", "cli:ana", "0af1")])
    {('m-1', 3600000)}
    """
    found = set()
    for request in requests:
        if request.actor != "drift" or not request.request_id.startswith("drift-"):
            continue
        version, _, start = request.request_id[len("drift-") :].rpartition("-")
        if version and start.isdigit():
            found.add((version, int(start)))
    return found


def _time(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M")


def clock_lines(marks: Mapping[int, int], partitions: int, idle_ms: int) -> list[str]:
    """The event-time clock, and each input partition's mark (``idle``: left out of it)."""
    if not marks:
        return []
    idle = set(idle_partitions(marks, partitions, idle_ms))
    lines = [f"clock: {_time(clock_of(marks, partitions, idle_ms))} UTC ({len(idle)} idle)"]
    for partition in range(partitions):
        mark = marks.get(partition)
        when = "no row yet" if mark is None else f"{_time(mark)} UTC"
        lines.append(f"  partition {partition:>3}: {when}{'  idle' if partition in idle else ''}")
    return lines
