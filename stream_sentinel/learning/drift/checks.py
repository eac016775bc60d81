"""Checking one closed window: its alarms, and every monitor's value against its threshold.

The summary of a check keeps each monitor's statistic and the threshold Holm compared it with,
alarm or not, so `drift status` and the report can show how near each monitor came. Holm steps
through the p-values from the smallest and stops at the first that is not below its level: the
monitors after it were never compared with a threshold, and their ``threshold`` is None. For
``binomial_p`` the statistic is the p-value itself, which must fall *below* its threshold.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from stream_sentinel.learning.drift.events import DriftEvent
from stream_sentinel.logic.drift.monitors import check_window, findings
from stream_sentinel.logic.drift.reference import Reference
from stream_sentinel.logic.drift.thresholds import holm_levels
from stream_sentinel.logic.drift.window import WindowCounts


@dataclass(frozen=True, slots=True)
class MonitorValue:
    monitor: str
    feature: str | None
    statistic: str
    value: float
    threshold: float | None  # None: Holm stopped before this monitor
    alarm: bool
    p_value: float | None = None  # None in summaries stored before it was kept

    @property
    def subject(self) -> str:
        return self.monitor if self.feature is None else f"{self.monitor}[{self.feature}]"


@dataclass(frozen=True, slots=True)
class WindowCheck:
    """What one window's check found (stored in DB4, one per version and hour)."""

    model_version: str
    window_start: int
    window_end: int
    window_size: int
    reference_size: int
    values: tuple[MonitorValue, ...]

    def encode(self) -> str:
        data = asdict(self)
        return json.dumps(data, sort_keys=True)

    @classmethod
    def decode(cls, text: str | bytes) -> WindowCheck:
        data: dict[str, Any] = json.loads(text)
        known = MonitorValue.__dataclass_fields__
        # fields a newer version added are left out, so a rolling upgrade's older readers
        # still read what the newer writers store
        values = tuple(
            MonitorValue(**{k: x for k, x in v.items() if k in known}) for v in data.pop("values")
        )
        ours = {k: x for k, x in data.items() if k in cls.__dataclass_fields__}
        return cls(values=values, **ours)


def holm_reached(p_values: list[float], levels: list[float]) -> set[int]:
    """The monitors Holm compared with their level: in increasing order of p-value, up to
    and including the first that is not below it."""
    reached: set[int] = set()
    for i in sorted(range(len(p_values)), key=lambda i: p_values[i]):
        reached.add(i)
        if p_values[i] > levels[i]:
            break
    return reached


def check(
    reference: Reference, window: WindowCounts, alpha: float, detected_ms: int
) -> tuple[list[DriftEvent], WindowCheck]:
    """The window's alarms as events, and its summary."""
    version = reference.model_version
    alarms = check_window(reference, window, alpha)
    events = [DriftEvent.of_alarm(a, version, detected_ms) for a in alarms]
    alarmed = {(a.monitor, a.feature) for a in alarms}
    found = findings(reference, window, alpha)
    p_values = [f.p_value for f in found]
    levels = holm_levels(p_values, alpha)
    reached = holm_reached(p_values, levels)
    values = tuple(
        MonitorValue(
            f.monitor,
            f.feature,
            f.statistic,
            f.value,
            f.critical(level) if i in reached else None,
            (f.monitor, f.feature) in alarmed,
            f.p_value,
        )
        for i, (f, level) in enumerate(zip(found, levels, strict=True))
    )
    summary = WindowCheck(
        version, window.start_ms, window.end_ms, window.size, reference.size, values
    )
    return events, summary
