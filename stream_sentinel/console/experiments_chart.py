"""The evidence trail of one experiment as inline SVG: two panels over event time.

Top: the estimated difference in recall (challenger minus champion, in points) with its
always-valid interval as a band and the zero line. Bottom: the log likelihood ratio against the
threshold (dashed) it must reach for a verdict. Plain strings, nothing fetched, no script: the
page is readable without JavaScript, like the drift report's charts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from stream_sentinel.console.web import iso_time

WIDTH, PANEL, PAD, GAP = 640, 150, 48, 30
HEIGHT = 24 + 2 * PANEL + GAP + 20  # legend above each panel, the times below
ESTIMATE_COLOUR, BAND_COLOUR, RATIO_COLOUR, THRESHOLD_COLOUR = (
    "#e07b39",
    "#f6d2b8",
    "#3d6fb6",
    "#c62828",
)
#: A recall difference lies in [-100, 100] points; a wider interval is drawn clipped to it.
LIMIT_PTS = 100.0

Points = Sequence[Mapping[str, Any]]


class _Panel:
    """Maps (index, value) into one panel's box; x follows event time (the index if all
    points share one time)."""

    def __init__(self, times: Sequence[int], top: float, low: float, high: float) -> None:
        self.times, self.top, self.low, self.high = times, top, low, max(high, low + 1e-9)

    def x(self, i: int) -> float:
        first, last = self.times[0], self.times[-1]
        if last == first:
            share = i / max(len(self.times) - 1, 1)
        else:
            share = (self.times[i] - first) / (last - first)
        return PAD + (WIDTH - 2 * PAD) * share

    def y(self, value: float) -> float:
        clipped = min(max(value, self.low), self.high)
        return self.top + PANEL * (self.high - clipped) / (self.high - self.low)

    def line(self, value: float, colour: str, dash: str = "") -> str:
        dashed = f' stroke-dasharray="{dash}"' if dash else ""
        y = self.y(value)
        return (
            f'<line x1="{PAD}" y1="{y:.1f}" x2="{WIDTH - PAD}" y2="{y:.1f}" '
            f'stroke="{colour}"{dashed}/>'
        )

    def scale(self, fmt: str) -> str:
        return _text(PAD - 4, self.top + 8, fmt.format(self.high), "end") + _text(
            PAD - 4, self.top + PANEL, fmt.format(self.low), "end"
        )


def trail_chart(points: Points) -> str | None:
    """Both panels for the trail (oldest first); None when there is no point yet."""
    if not points:
        return None
    times = [int(p["at_ms"]) for p in points]
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" class="trail-chart">',
        "<title>The test's evidence after each settlement</title>",
        *_estimate_panel(points, times),
        *_ratio_panel(points, times),
        _text(PAD, HEIGHT - 6, iso_time(times[0]), "start"),
        _text(WIDTH - PAD, HEIGHT - 6, iso_time(times[-1]), "end"),
    ]
    return "".join(parts) + "</svg>"


def _estimate_panel(points: Points, times: Sequence[int]) -> list[str]:
    values = [100 * float(p["estimate"]) for p in points]
    bounds = [100 * float(p[k]) for p in points for k in ("low", "high") if p[k] is not None]
    low = max(min([*values, *bounds, 0.0]), -LIMIT_PTS)
    high = min(max([*values, *bounds, 0.0]), LIMIT_PTS)
    panel = _Panel(times, 24, low, high)
    parts = [_band(panel, points, run) for run in _bounded_runs(points)]
    parts += [
        panel.line(0.0, "#999"),
        _polyline([(panel.x(i), panel.y(v)) for i, v in enumerate(values)], ESTIMATE_COLOUR),
        panel.scale("{:+.0f} pts"),
        _legend(24 - 14, [("recall difference", ESTIMATE_COLOUR), ("interval", BAND_COLOUR)]),
    ]
    return parts


def _ratio_panel(points: Points, times: Sequence[int]) -> list[str]:
    ratios = [float(p["log_ratio"]) for p in points]
    threshold = float(points[-1]["threshold"])
    top = 24 + PANEL + GAP
    panel = _Panel(times, top, min([*ratios, 0.0]), max([*ratios, threshold]) * 1.1)
    return [
        panel.line(threshold, THRESHOLD_COLOUR, "4 3"),
        _text(WIDTH - PAD + 4, panel.y(threshold) + 3, f"{threshold:.2f}", "start"),
        _polyline([(panel.x(i), panel.y(v)) for i, v in enumerate(ratios)], RATIO_COLOUR),
        panel.scale("{:.1f}"),
        _legend(top - 14, [("log ratio", RATIO_COLOUR), ("threshold", THRESHOLD_COLOUR)]),
    ]


def _bounded_runs(points: Points) -> list[list[int]]:
    """The stretches of consecutive points whose interval is bounded."""
    runs: list[list[int]] = []
    for i, p in enumerate(points):
        if p["low"] is None or p["high"] is None:
            continue
        if runs and runs[-1][-1] == i - 1:
            runs[-1].append(i)
        else:
            runs.append([i])
    return runs


def _band(panel: _Panel, points: Points, run: Sequence[int]) -> str:
    upper = [(panel.x(i), panel.y(100 * float(points[i]["high"]))) for i in run]
    lower = [(panel.x(i), panel.y(100 * float(points[i]["low"]))) for i in reversed(run)]
    text = " ".join(f"{x:.1f},{y:.1f}" for x, y in [*upper, *lower])
    return f'<polygon points="{text}" fill="{BAND_COLOUR}" stroke="none"/>'


def _polyline(points: Sequence[tuple[float, float]], colour: str) -> str:
    text = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
    return f'<polyline points="{text}" fill="none" stroke="{colour}" stroke-width="1.5"/>'


def _text(x: float, y: float, words: str, anchor: str) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="9" text-anchor="{anchor}">{escape(words)}</text>'
    )


def _legend(y: float, items: Sequence[tuple[str, str]]) -> str:
    parts = []
    for i, (name, colour) in enumerate(items):
        x = PAD + i * 130
        parts.append(f'<rect x="{x}" y="{y:.0f}" width="10" height="10" fill="{colour}"/>')
        parts.append(_text(x + 14, y + 9, name, "start"))
    return "".join(parts)
