"""Two small inline-SVG charts for the drift report: paired bars and a line with marks.

Plain strings, no library and nothing fetched: the report is one self-contained file.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

WIDTH, HEIGHT, PAD = 640, 180, 36
REFERENCE_COLOUR, CURRENT_COLOUR, ALARM_COLOUR = "#7a8ca3", "#e07b39", "#c62828"


def paired_bars(labels: Sequence[str], reference: Sequence[float], current: Sequence[float]) -> str:
    """Shares per bin, the reference's bar beside the current one."""
    top = max([*reference, *current, 1e-9])
    slot = (WIDTH - 2 * PAD) / max(len(labels), 1)
    bar = slot * 0.4
    parts = [_open(), _axis()]
    for i, (label, ref, cur) in enumerate(zip(labels, reference, current, strict=True)):
        x = PAD + i * slot + slot * 0.1
        parts.append(_bar(x, bar, ref / top, REFERENCE_COLOUR, f"{label}: reference {ref:.1%}"))
        parts.append(_bar(x + bar, bar, cur / top, CURRENT_COLOUR, f"{label}: current {cur:.1%}"))
        parts.append(
            f'<text x="{x + bar:.1f}" y="{HEIGHT - PAD + 12}" font-size="8" '
            f'text-anchor="middle">{escape(_short(label))}</text>'
        )
    parts.append(_legend([("reference", REFERENCE_COLOUR), ("current", CURRENT_COLOUR)]))
    return "".join(parts) + "</svg>"


def line_with_marks(
    times: Sequence[str],
    values: Sequence[float],
    thresholds: Sequence[float | None],
    alarms: Sequence[bool],
) -> str:
    """A statistic over windows (line), its threshold (dashed, where Holm compared it with
    one), alarms as red dots."""
    compared = [(i, t) for i, t in enumerate(thresholds) if t is not None]
    top = max([*values, *(t for _, t in compared), 1e-9])
    step = (WIDTH - 2 * PAD) / max(len(values) - 1, 1)

    def point(i: int, v: float) -> tuple[float, float]:
        return PAD + i * step, HEIGHT - PAD - (HEIGHT - 2 * PAD) * v / top

    parts = [_open(), _axis()]
    parts.append(_polyline([point(i, v) for i, v in enumerate(values)], CURRENT_COLOUR, ""))
    parts.append(_polyline([point(i, t) for i, t in compared], REFERENCE_COLOUR, "4 3"))
    for i, (v, alarm) in enumerate(zip(values, alarms, strict=True)):
        if alarm:
            x, y = point(i, v)
            parts.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{ALARM_COLOUR}">'
                f"<title>alarm {escape(times[i])}: {v:.4g}</title></circle>"
            )
    if times:
        parts.append(f'<text x="{PAD}" y="{HEIGHT - 8}" font-size="9">{escape(times[0])}</text>')
        parts.append(
            f'<text x="{WIDTH - PAD}" y="{HEIGHT - 8}" font-size="9" text-anchor="end">'
            f"{escape(times[-1])}</text>"
        )
    parts.append(
        _legend(
            [
                ("statistic", CURRENT_COLOUR),
                ("threshold", REFERENCE_COLOUR),
                ("alarm", ALARM_COLOUR),
            ]
        )
    )
    return "".join(parts) + "</svg>"


def _open() -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img">'
    )


def _axis() -> str:
    y = HEIGHT - PAD
    return f'<line x1="{PAD}" y1="{y}" x2="{WIDTH - PAD}" y2="{y}" stroke="#999"/>'


def _bar(x: float, width: float, share: float, colour: str, title: str) -> str:
    height = (HEIGHT - 2 * PAD) * share
    return (
        f'<rect x="{x:.1f}" y="{HEIGHT - PAD - height:.1f}" width="{width:.1f}" '
        f'height="{height:.1f}" fill="{colour}"><title>{escape(title)}</title></rect>'
    )


def _polyline(points: Sequence[tuple[float, float]], colour: str, dash: str) -> str:
    text = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
    dashed = f' stroke-dasharray="{dash}"' if dash else ""
    return f'<polyline points="{text}" fill="none" stroke="{colour}"{dashed}/>'


def _legend(items: Sequence[tuple[str, str]]) -> str:
    parts = []
    for i, (name, colour) in enumerate(items):
        x = PAD + i * 90
        parts.append(f'<rect x="{x}" y="6" width="10" height="10" fill="{colour}"/>')
        parts.append(f'<text x="{x + 14}" y="15" font-size="10">{escape(name)}</text>')
    return "".join(parts)


def _short(label: str) -> str:
    return label if len(label) <= 9 else label[:8] + "…"
