"""A drift alarm as it leaves the service: the ``DriftEvent`` record and its DB4 JSON.

The id names the alarm (model version, monitor, feature, window start), so the same alarm
counted twice (two workers, a replay) is one member of the DB4 set and a repeat a reader drops.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from stream_sentinel.logic.drift.monitors import DriftAlarm
from stream_sentinel.logic.drift.outcomes import Detection
from stream_sentinel.logic.drift.window import HOUR_MS

#: The statistic of the labelled performance monitors' alarms.
OUTCOME_MEAN = "outcome_mean"


@dataclass(frozen=True, slots=True)
class DriftEvent:
    event_id: str
    monitor: str
    feature: str | None
    statistic: str
    value: float
    threshold: float
    p_value: float
    level: float
    window_start: int
    window_end: int
    reference_size: int
    window_size: int
    severity: str
    model_version: str
    detected_time: int

    @classmethod
    def of_alarm(cls, alarm: DriftAlarm, version: str, detected_ms: int) -> DriftEvent:
        return cls(
            event_id(version, alarm.monitor, alarm.feature, alarm.window_start_ms),
            alarm.monitor,
            alarm.feature,
            alarm.statistic,
            alarm.value,
            alarm.threshold,
            alarm.p_value,
            alarm.level,
            alarm.window_start_ms,
            alarm.window_end_ms,
            alarm.reference_size,
            alarm.window_size,
            str(alarm.severity),
            version,
            detected_ms,
        )

    @classmethod
    def of_detection(cls, found: Detection, version: str, detected_ms: int) -> DriftEvent:
        """A labelled performance monitor's detection: ``value`` is the mean of the last
        outcomes up to it, ``threshold`` the mean before them (since the monitor's previous
        detection), the window the event-time hour of the decision where it signalled. A
        sequential detector has no p-value: ``p_value`` and ``level`` are 0. ``critical`` when
        the change is the bad way (more errors, lower precision), else ``warning``."""
        start = found.event_time - found.event_time % HOUR_MS
        return cls(
            event_id(version, found.monitor, None, start),
            found.monitor,
            None,
            OUTCOME_MEAN,
            found.recent_mean,
            found.before_mean,
            0.0,
            0.0,
            start,
            start + HOUR_MS,
            found.before,
            found.recent,
            "critical" if found.worse else "warning",
            version,
            detected_ms,
        )

    def to_record(self) -> dict[str, Any]:
        """The record for the DriftEvent schema (field names are the schema's)."""
        return asdict(self)

    def encode(self) -> str:
        return json.dumps(self.to_record(), sort_keys=True)

    @classmethod
    def decode(cls, text: str | bytes) -> DriftEvent:
        return cls(**json.loads(text))

    @property
    def subject(self) -> str:
        """``monitor`` or ``monitor[feature]``: how status and the report name it."""
        return self.monitor if self.feature is None else f"{self.monitor}[{self.feature}]"


def event_id(version: str, monitor: str, feature: str | None, window_start_ms: int) -> str:
    return f"{version}:{monitor}:{feature or '-'}:{window_start_ms}"
