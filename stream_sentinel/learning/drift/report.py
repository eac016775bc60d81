"""`drift report`: one self-contained HTML page (inline SVG, no script, nothing fetched).

Per model version checked in the period: every watched feature's reference shares beside the
period's (all its checked windows merged), and every monitor's statistic over the windows with
its threshold and the alarms marked; then the alarms as a table.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from html import escape

from stream_sentinel.learning.drift.checks import WindowCheck
from stream_sentinel.learning.drift.events import DriftEvent
from stream_sentinel.learning.drift.records import DriftRecords
from stream_sentinel.learning.drift.svg import line_with_marks, paired_bars
from stream_sentinel.logic.drift.reference import Reference
from stream_sentinel.logic.drift.window import WindowCounts

STYLE = (
    "body{font-family:sans-serif;margin:2em;color:#222}h2{margin-top:2em}"
    "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px;font-size:12px}"
    "figure{display:inline-block;margin:0.5em}figcaption{font-size:12px}"
)


def write_report(records: DriftRecords, since_ms: int, now_ms: int) -> str:
    """The report's HTML for the windows from ``since_ms`` on."""
    checks = records.checks(since_ms)
    alarms = records.alarms(since_ms)
    by_version: dict[str, list[WindowCheck]] = defaultdict(list)
    for check in checks:
        by_version[check.model_version].append(check)
    body = [
        f"<h1>Drift report</h1><p>windows from {_time(since_ms)} UTC; written {_time(now_ms)} UTC; "
        f"{len(checks)} windows checked, {len(alarms)} alarms.</p>"
    ]
    if not checks:
        body.append("<p>No window was checked in this period.</p>")
    for version, found in sorted(by_version.items()):
        reference = records.reference(version)
        body.append(f"<h2>Model {escape(version)}</h2>")
        if reference is not None:
            body.append(_features(reference, _merged(records, reference, found)))
        body.append(_monitors(found))
    body.append(_alarm_table(alarms))
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>Drift report</title>"
        f"<style>{STYLE}</style></head><body>{''.join(body)}</body></html>"
    )


def _merged(
    records: DriftRecords, reference: Reference, checks: Sequence[WindowCheck]
) -> WindowCounts | None:
    total: WindowCounts | None = None
    for window in records.windows([(c.model_version, c.window_start) for c in checks]):
        if window is not None:
            total = window if total is None else _add(total, window)
    return total


def _add(a: WindowCounts, b: WindowCounts) -> WindowCounts:
    # windows of different hours: add the counts, keep the first hour's bounds
    moved = WindowCounts(
        a.model_version,
        a.start_ms,
        a.end_ms,
        b.size,
        b.features,
        b.score_counts,
        b.score_sum,
        b.band_alerts,
        b.band_score_sums,
    )
    return a.merged(moved)


def _features(reference: Reference, current: WindowCounts | None) -> str:
    parts = ["<h3>Features: reference against the period</h3>"]
    if current is None:
        return parts[0] + "<p>The windows' counts have expired (kept 30 days).</p>"
    for name, profile in reference.features.items():
        counts = current.features[name]
        ref = _shares(profile.counts)
        cur = _shares(counts)
        chart = paired_bars(profile.binning.labels(), ref, cur)
        parts.append(f"<figure>{chart}<figcaption>{escape(name)}</figcaption></figure>")
    return "".join(parts)


def _monitors(checks: Sequence[WindowCheck]) -> str:
    series: dict[str, list[tuple[str, float, float | None, bool]]] = defaultdict(list)
    for check in checks:
        for value in check.values:
            series[value.subject].append(
                (_time(check.window_start), value.value, value.threshold, value.alarm)
            )
    parts = ["<h3>Statistics over time</h3>"]
    for subject, points in series.items():
        times, values, thresholds, alarms = zip(*points, strict=True)
        chart = line_with_marks(times, values, thresholds, alarms)
        parts.append(f"<figure>{chart}<figcaption>{escape(subject)}</figcaption></figure>")
    return "".join(parts)


def _alarm_table(alarms: Sequence[DriftEvent]) -> str:
    rows = "".join(
        f"<tr><td>{_time(a.window_start)}</td><td>{escape(a.model_version)}</td>"
        f"<td>{escape(a.subject)}</td><td>{escape(a.statistic)}</td><td>{a.value:.4g}</td>"
        f"<td>{a.threshold:.4g}</td><td>{a.window_size:,}</td><td>{escape(a.severity)}</td></tr>"
        for a in alarms
    )
    head = (
        "<tr><th>window (UTC)</th><th>model</th><th>monitor</th><th>statistic</th><th>value</th>"
        "<th>threshold</th><th>rows</th><th>severity</th></tr>"
    )
    return f"<h2>Alarms</h2><table>{head}{rows}</table>"


def _shares(counts: Sequence[int]) -> list[float]:
    total = sum(counts) or 1
    return [c / total for c in counts]


def _time(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M")
