"""Durations as people write them on a command line: ``90s``, ``30m``, ``12h``, ``7d``, ``1h30m``.

>>> parse_duration("1h30m")
5400.0
>>> format_duration(5400)
'1h30m'
"""

from __future__ import annotations

import re

from stream_sentinel.errors import UsageError

_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_WHOLE = re.compile(r"(?:\d+(?:\.\d+)?(?:ms|s|m|h|d|w))+")


def parse_duration(text: str, *, what: str = "duration") -> float:
    """Seconds in ``text``; a bare number means seconds. Raises UsageError saying what to write."""
    cleaned = text.strip().lower().replace(" ", "")
    try:
        seconds = float(cleaned)
    except ValueError:
        if not _WHOLE.fullmatch(cleaned):
            raise UsageError(
                f"{what} {text!r} is not a duration: write it like 90s, 30m, 12h, 7d or 1h30m"
            ) from None
        seconds = sum(float(n) * _UNIT_SECONDS[unit] for n, unit in _PART.findall(cleaned))
    if seconds < 0 or seconds != seconds:
        raise UsageError(f"{what} {text!r} must not be negative")
    return seconds


def format_duration(seconds: float) -> str:
    """A compact human form (``2d3h``, ``45m``, ``12s``, ``350ms``), largest units first."""
    if seconds < 1:
        return f"{round(seconds * 1000)}ms"
    remaining = round(seconds)
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, remaining = divmod(remaining, size)
        if count:
            parts.append(f"{count}{unit}")
        if len(parts) == 2:
            break
    return "".join(parts) or "0s"
