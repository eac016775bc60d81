"""One model version's labelled performance monitors: the outcome streams of its settled
decisions fed, in a fixed order, to River's ADWIN and Page-Hinkley (:mod:`.performance`).

Two streams per version, four monitors:

- ``error``: every labelled decision, 1 where alerting disagreed with the label;
- ``precision``: every labelled decision that alerted, 1 where it was fraud;

each watched by ``adwin-{stream}`` and ``page-hinkley-{stream}`` at River's defaults. A batch of
decisions is fed ordered by event time, then transaction id, so the same decisions always give
the same stream whatever order their labels came in.

A detection is reported with the mean of the last :data:`RECENT` outcomes up to it and the mean
of the outcomes before those since the monitor's previous detection (or the start): the mean the
stream moved away from. ``worse`` says the change is the bad way (more errors, lower precision).

>>> monitors = VersionMonitors.fresh()
>>> good = [Labelled(i, f"t{i}", flagged=i % 10 == 0, fraud=i % 10 == 0) for i in range(3000)]
>>> monitors.update(good)
[]
>>> bad = [Labelled(3000 + i, f"u{i}", flagged=i % 10 == 0, fraud=False) for i in range(2000)]
>>> for found in monitors.update(bad):
...     print(found.monitor, found.position, found.worse)
adwin-error 3103 True
adwin-precision 319 True
page-hinkley-precision 354 True
page-hinkley-error 3580 True
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from river import drift

from stream_sentinel.logic.drift.performance import (
    DETECTORS,
    OutcomeMonitor,
    error_outcomes,
    precision_outcomes,
)

STREAMS = ("error", "precision")
#: monitor name -> (River detector, stream it watches)
MONITORS: Mapping[str, tuple[str, str]] = {
    "adwin-error": ("adwin", "error"),
    "page-hinkley-error": ("page-hinkley", "error"),
    "adwin-precision": ("adwin", "precision"),
    "page-hinkley-precision": ("page-hinkley", "precision"),
}
#: Outcomes up to a detection whose mean is reported as the stream's new level.
RECENT = 100


@dataclass(frozen=True, slots=True)
class Labelled:
    """One decision with its effective label, as the monitors see it."""

    event_time: int
    transaction_id: str
    flagged: bool
    fraud: bool


@dataclass(frozen=True, slots=True)
class Detection:
    monitor: str
    stream: str
    position: int  # in the stream, counted from its start
    recent_mean: float  # of the last RECENT outcomes up to the detection
    before_mean: float  # of the outcomes before those, since the previous detection
    recent: int
    before: int
    event_time: int  # of the decision at which the detector signalled

    @property
    def worse(self) -> bool:
        if self.stream == "error":
            return self.recent_mean > self.before_mean
        return self.recent_mean < self.before_mean


def streams_of(decisions: Iterable[Labelled]) -> tuple[dict[str, np.ndarray], dict[str, list[int]]]:
    """The outcome streams of ``decisions`` in their fixed order, and each outcome's event time."""
    ordered = sorted(decisions, key=lambda d: (d.event_time, d.transaction_id))
    flagged = np.array([float(d.flagged) for d in ordered], dtype=np.float64)
    fraud = np.array([d.fraud for d in ordered], dtype=bool)
    times = [d.event_time for d in ordered]
    outcomes = {
        "error": error_outcomes(flagged, fraud, 0.5),
        "precision": precision_outcomes(flagged, fraud, 0.5),
    }
    when = {"error": times, "precision": [t for t, f in zip(times, flagged, strict=True) if f]}
    return outcomes, when


def _empty_streams() -> dict[str, bytearray]:
    return {stream: bytearray() for stream in STREAMS}


@dataclass
class VersionMonitors:
    """The four monitors of one version and the outcome streams they were fed."""

    monitors: dict[str, OutcomeMonitor]
    outcomes: dict[str, bytearray] = field(default_factory=_empty_streams)

    @classmethod
    def fresh(cls) -> VersionMonitors:
        return cls({name: OutcomeMonitor(kind) for name, (kind, _) in MONITORS.items()})

    def update(self, decisions: Iterable[Labelled]) -> list[Detection]:
        """Feed a settled batch of decisions; the detections among them, in stream order."""
        outcomes, when = streams_of(decisions)
        found: list[Detection] = []
        for name, (_, stream) in MONITORS.items():
            start = len(self.outcomes[stream])
            monitor = self.monitors[name]
            previous = monitor.detections[-1] if monitor.detections else -1
            fed = np.concatenate(
                [np.frombuffer(bytes(self.outcomes[stream]), dtype=np.uint8), outcomes[stream]]
            )
            for position in monitor.update(outcomes[stream]):
                history = fed[: position + 1]
                found.append(
                    self._detection(name, stream, position, previous, history, when, start)
                )
                previous = position
        for stream in STREAMS:
            self.outcomes[stream] += outcomes[stream].astype(np.uint8).tobytes()
        return sorted(found, key=lambda d: (d.event_time, d.monitor))

    @staticmethod
    def _detection(
        name: str,
        stream: str,
        position: int,
        previous: int,
        history: np.ndarray,
        when: Mapping[str, list[int]],
        start: int,
    ) -> Detection:
        recent = history[max(position + 1 - RECENT, previous + 1) :]
        before = history[previous + 1 : max(position + 1 - RECENT, previous + 1)]
        return Detection(
            name,
            stream,
            position,
            float(recent.mean()) if len(recent) else 0.0,
            float(before.mean()) if len(before) else float(recent.mean()),
            len(recent),
            len(before),
            when[stream][position - start],
        )

    def summary(self, name: str) -> dict[str, Any]:
        """Outcomes seen, their mean, and the mean since the last detection (``drift status``)."""
        monitor = self.monitors[name]
        history = np.frombuffer(bytes(self.outcomes[MONITORS[name][1]]), dtype=np.uint8)
        since = monitor.detections[-1] + 1 if monitor.detections else 0
        current = history[since:]
        return {
            "outcomes": len(history),
            "mean": float(history.mean()) if len(history) else None,
            "since_last_detection": len(current),
            "mean_since_last_detection": float(current.mean()) if len(current) else None,
            "detections": len(monitor.detections),
        }

    def to_json(self) -> dict[str, Any]:
        return {name: monitor.to_json() for name, monitor in self.monitors.items()}

    @classmethod
    def from_json(cls, data: Mapping[str, Any], outcomes: Mapping[str, bytes]) -> VersionMonitors:
        """Rebuilt by replaying each stream (:meth:`OutcomeMonitor.from_json` checks it)."""
        stored = {s: np.frombuffer(outcomes.get(s, b""), dtype=np.uint8) for s in STREAMS}
        monitors = {
            name: OutcomeMonitor.from_json(data[name], stored[stream].astype(np.float64).tolist())
            for name, (_, stream) in MONITORS.items()
        }
        return cls(monitors, {s: bytearray(stored[s].tobytes()) for s in STREAMS})


def detector_limit(monitor: str) -> str:
    """What a monitor's detector compares with (River's defaults): ADWIN's confidence ``delta``,
    Page-Hinkley's ``threshold`` on its cumulative deviation.

    >>> detector_limit("adwin-error"), detector_limit("page-hinkley-precision")
    ('delta 0.002', 'threshold 50.0')
    """
    kind = MONITORS[monitor][0]
    detector = DETECTORS[kind]()
    if isinstance(detector, drift.ADWIN):
        return f"delta {detector.delta}"
    return f"threshold {float(detector.threshold)}"


def rates_around(fed: Iterable[Mapping[int, Sequence[int]]], switch_hour: int) -> dict[str, Any]:
    """The error rate and precision of the decisions fed before and after ``switch_hour``,
    from per-hour tallies of [labelled, wrong, alerted, alerted fraud]: the size of the change
    the monitors had to see.

    >>> rates_around([{0: [10, 1, 2, 2], 5: [10, 4, 4, 1]}], 5)["precision_after_switch"]
    0.25
    """
    sums = {"before": [0, 0, 0, 0], "after": [0, 0, 0, 0]}
    for tallies in fed:
        for hour, tally in tallies.items():
            into = sums["after" if hour >= switch_hour else "before"]
            for i, amount in enumerate(tally):
                into[i] += amount
    rates: dict[str, Any] = {}
    for side, (labelled, wrong, alerted, hits) in sums.items():
        rates[f"labelled_{side}_switch"] = labelled
        rates[f"error_rate_{side}_switch"] = round(wrong / labelled, 4) if labelled else None
        rates[f"alerted_{side}_switch"] = alerted
        rates[f"precision_{side}_switch"] = round(hits / alerted, 4) if alerted else None
    return rates


def positions_of(detections: Sequence[Detection]) -> dict[str, list[int]]:
    """monitor -> its detection positions (for tests and the evaluation)."""
    out: dict[str, list[int]] = {name: [] for name in MONITORS}
    for found in detections:
        out[found.monitor].append(found.position)
    return out
