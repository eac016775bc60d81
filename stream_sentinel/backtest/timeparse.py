"""Event times as histories write them, to epoch milliseconds (UTC).

Formats: ISO-8601 in its extended form (``2019-01-01T00:00:18``, ``2019-01-01 00:00:18``,
fractions, ``Z`` or an offset), epoch seconds or milliseconds, hours from an origin
(``--time-origin``, PaySim's ``step``), or a ``strptime`` pattern. ``auto`` looks at the first
thousand values: mostly text means ISO; mostly numbers mean hours when an origin is given, else
epoch milliseconds (>= 1e11) or seconds (>= 1e8). Naive times are in ``timezone`` (UTC unless
told otherwise). Columns parse in vectorised chunks; a chunk that numpy cannot read is parsed
value by value, so each bad value gets its own reason.

>>> spec = TimeSpec("auto")
>>> parse_times(["2019-01-01 00:00:18", "1 Jan"], spec)[0][0]
np.int64(1546300818000)
>>> parse_times(["2019-01-01 00:00:18", "1 Jan"], spec)[1]
{1: "timestamp '1 Jan' is not an ISO-8601 time"}
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np

from stream_sentinel.errors import UsageError

FORMATS = ("auto", "iso", "epoch-s", "epoch-ms", "hours")
HOUR_MS = 3_600_000
CHUNK = 10_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
# numpy reads "20190101" as the year 20,190,101: years outside this range go value by value.
_SANE_MS = (
    int(np.datetime64("1900-01-01", "ms").astype(np.int64)),
    int(np.datetime64("2200-01-01", "ms").astype(np.int64)),
)

Bad = dict[int, str]


@dataclass(frozen=True)
class TimeSpec:
    """How to read a time column: a format name or a strptime pattern, zone and origin."""

    format: str = "auto"
    timezone: tzinfo = field(default=UTC)
    origin_ms: int | None = None

    def __post_init__(self) -> None:
        if self.format not in FORMATS and "%" not in self.format:
            raise UsageError(
                f"--time-format {self.format!r}: use one of {', '.join(FORMATS)} "
                "or a strptime pattern such as '%d/%m/%Y %H:%M'"
            )
        if self.format == "hours" and self.origin_ms is None:
            raise UsageError(
                "--time-format hours needs --time-origin (the time of offset 0, e.g. 2024-01-01)"
            )


def parse_timezone(text: str | None) -> tzinfo:
    """``UTC``, an IANA name (``Europe/Paris``) or a fixed offset (``+02:00``)."""
    if not text or text.upper() in ("UTC", "Z"):
        return UTC
    if text[0] in "+-":
        try:
            parsed = datetime.strptime(text.replace(":", ""), "%z")
        except ValueError:
            raise UsageError(f"--timezone {text!r}: write an offset like +02:00") from None
        offset = parsed.utcoffset()
        return timezone(offset) if offset is not None else UTC
    try:
        return ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(
            f"--timezone {text!r} is not a time zone: use UTC, an IANA name such as "
            "Europe/Paris, or an offset such as +02:00"
        ) from None


def parse_origin(text: str, zone: tzinfo = UTC) -> int:
    """``--time-origin``: an ISO date or time (naive means ``zone``) as epoch ms."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(
            f"--time-origin {text!r} is not an ISO date or time (e.g. 2024-01-01T00:00:00)"
        ) from None
    return _to_ms(moment, zone)


def parse_times(values: Sequence[str], spec: TimeSpec) -> tuple[np.ndarray, Bad]:
    """Epoch ms for each value (0 where bad) and ``{index: reason}`` for the bad ones."""
    kind = resolve_format(values, spec)
    out = np.zeros(len(values), dtype=np.int64)
    bad: Bad = {}
    for start in range(0, len(values), CHUNK):
        chunk = values[start : start + CHUNK]
        out[start : start + len(chunk)] = _parse_chunk(chunk, kind, spec, start, bad)
    return out, bad


def resolve_format(values: Sequence[str], spec: TimeSpec) -> str:
    """The format ``auto`` stands for, judged on the first thousand non-empty values."""
    if spec.format != "auto":
        return spec.format
    sample = [v for v in values[:5000] if v.strip()][:1000]
    numbers = np.array([n for n in map(_number, sample) if n is not None], dtype=np.float64)
    if len(numbers) * 2 <= len(sample):  # mostly text (a few bad values must not flip it)
        return "iso"
    if spec.origin_ms is not None:
        return "hours"
    if numbers.max() >= 1e11:
        return "epoch-ms"
    if numbers.min() >= 1e8:
        return "epoch-s"
    raise UsageError(
        f"the time column holds small numbers ({numbers.min():g} .. {numbers.max():g}): if they "
        "are hours from a start, give --time-origin (e.g. --time-origin 2024-01-01); if they are "
        "epoch seconds, give --time-format epoch-s"
    )


def _number(value: str) -> float | None:
    try:
        number = float(value)
    except ValueError:
        return None
    return number if np.isfinite(number) else None


def _numbers(values: Sequence[str]) -> np.ndarray | None:
    try:
        return np.array([float(v) for v in values], dtype=np.float64)
    except ValueError:
        return None


def _parse_chunk(
    chunk: Sequence[str], kind: str, spec: TimeSpec, offset: int, bad: Bad
) -> np.ndarray:
    fast = _fast(chunk, kind, spec)
    if fast is not None:
        return fast
    out = np.zeros(len(chunk), dtype=np.int64)
    for i, value in enumerate(chunk):
        try:
            out[i] = _one(value, kind, spec)
        except (ValueError, OverflowError):
            bad[offset + i] = _reason(value, kind)
    return out


def _fast(chunk: Sequence[str], kind: str, spec: TimeSpec) -> np.ndarray | None:
    """The whole chunk at once, or None when any value needs a closer look."""
    if kind == "iso":
        return _fast_iso(chunk, spec.timezone)
    if kind in ("epoch-s", "epoch-ms", "hours"):
        numbers = _numbers(chunk)
        if numbers is None or not np.isfinite(numbers).all():
            return None
        return _from_number(numbers, kind, spec)
    return None


def _fast_iso(chunk: Sequence[str], zone: tzinfo) -> np.ndarray | None:
    if not all("-" in value for value in chunk):  # numpy reads bare digits as a year
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # numpy only warns about "Z" and offsets
            parsed = np.array(chunk, dtype="datetime64[ms]")
    except (ValueError, TypeError, Warning):
        return None
    local = parsed.astype(np.int64)
    if np.isnat(parsed).any() or local.min() < _SANE_MS[0] or local.max() >= _SANE_MS[1]:
        return None
    return local_to_utc(local, zone)


def _from_number(numbers: np.ndarray, kind: str, spec: TimeSpec) -> np.ndarray:
    if kind == "epoch-s":
        return np.rint(numbers * 1000).astype(np.int64)
    if kind == "epoch-ms":
        return np.rint(numbers).astype(np.int64)
    assert spec.origin_ms is not None
    return spec.origin_ms + np.rint(numbers * HOUR_MS).astype(np.int64)


def _one(value: str, kind: str, spec: TimeSpec) -> int:
    text = value.strip()
    if kind == "iso":
        if "-" not in text[:10]:  # only the extended form: 2019-01-01, not 20190101 or 1546300818
            raise ValueError(text)
        return _to_ms(datetime.fromisoformat(text), spec.timezone)
    if kind in ("epoch-s", "epoch-ms", "hours"):
        number = float(text)
        if not np.isfinite(number):
            raise ValueError(text)
        return int(_from_number(np.array([number]), kind, spec)[0])
    return _to_ms(datetime.strptime(text, spec.format), spec.timezone)


def _reason(value: str, kind: str) -> str:
    if not value.strip():
        return "timestamp is empty"
    wanted = {
        "iso": "an ISO-8601 time",
        "epoch-s": "epoch seconds",
        "epoch-ms": "epoch milliseconds",
        "hours": "a number of hours",
    }.get(kind, f"a time in the format {kind!r}")
    return f"timestamp {value!r} is not {wanted}"


def _to_ms(moment: datetime, zone: tzinfo) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return (moment - _EPOCH) // _MS


def local_to_utc(local_ms: np.ndarray, zone: tzinfo) -> np.ndarray:
    """Naive wall-clock times of ``zone`` (as if UTC) to real UTC epoch ms."""
    if zone is UTC:
        return local_ms
    if isinstance(zone, timezone):
        offset = zone.utcoffset(None)
        return local_ms - offset // _MS
    minutes, inverse = np.unique(local_ms // 60_000, return_inverse=True)
    offsets = np.array([_offset_ms(int(m) * 60_000, zone) for m in minutes], dtype=np.int64)
    return local_ms - offsets[inverse.reshape(-1)]


def _offset_ms(local_ms: int, zone: tzinfo) -> int:
    naive = datetime(1970, 1, 1) + timedelta(milliseconds=local_ms)
    offset = naive.replace(tzinfo=zone).utcoffset()
    return 0 if offset is None else offset // _MS
