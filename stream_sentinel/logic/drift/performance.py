"""Performance drift once labels arrive: River's ADWIN and Page-Hinkley on 0/1 outcome streams.

Two streams, both built from labelled decisions in event-time order:

- :func:`error_outcomes`: 1 where the decision at the alerting threshold was wrong (an alert
  on a genuine payment, or no alert on a fraud), else 0; its mean is the error rate.
- :func:`precision_outcomes`: for the alerted transactions only, 1 where the alert was fraud;
  its mean is the precision at the alerting threshold.

A detector is fed one stream and reports the positions where it saw the mean change.
The starting point is River's defaults: ADWIN with ``delta`` 0.002 (its confidence bound; checks
every 32 values), Page-Hinkley with ``threshold`` 50, ``delta`` 0.005 and ``alpha`` 0.9999,
both directions. The tests show on seeded sequences with a known change point that both detect
after the change and not before; they do not tune these values.

State: River keeps ADWIN's window in a compiled helper object and Page-Hinkley's sums in private
attributes, neither of which is a stable, JSON-able format. :meth:`OutcomeMonitor.to_json`
therefore stores the parameters, the number of outcomes seen and the detections, and
:meth:`OutcomeMonitor.from_json` rebuilds the detector by replaying the stored outcome stream
(the labels and decisions are kept anyway), checking that the replay has the recorded length
and reproduces the recorded detections.

>>> monitor = OutcomeMonitor("adwin")
>>> monitor.update([0.0] * 1000 + [1.0] * 200)
[1023]
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
from river import drift

from stream_sentinel.errors import SentinelError

#: The River detectors a monitor can run, by name, with River's default parameters.
DETECTORS: Mapping[str, type[drift.ADWIN] | type[drift.PageHinkley]] = {
    "adwin": drift.ADWIN,
    "page-hinkley": drift.PageHinkley,
}


class ReplayMismatch(SentinelError):
    """A replayed outcome stream does not match the monitor state it should rebuild."""


def error_outcomes(scores: np.ndarray, labels: np.ndarray, threshold: float) -> np.ndarray:
    """1.0 where alerting at ``threshold`` disagrees with the label (1 = fraud), else 0.0."""
    return ((scores >= threshold) != labels.astype(bool)).astype(np.float64)


def precision_outcomes(scores: np.ndarray, labels: np.ndarray, threshold: float) -> np.ndarray:
    """For each alerted transaction, 1.0 if it was fraud: its mean is the precision."""
    return labels[scores >= threshold].astype(np.float64)


class OutcomeMonitor:
    """One River drift detector over one outcome stream, remembering where it fired."""

    def __init__(self, kind: str, params: Mapping[str, Any] | None = None) -> None:
        if kind not in DETECTORS:
            raise SentinelError(f"unknown drift detector {kind!r}: use one of {sorted(DETECTORS)}")
        self.kind = kind
        self.params = dict(params or {})
        self._detector = DETECTORS[kind](**self.params)
        self.seen = 0
        self.detections: list[int] = []

    def update(self, outcomes: Iterable[float]) -> list[int]:
        """Feed outcomes in order; the positions (counted from the stream's start) where the
        detector signalled a change among them."""
        found = []
        for value in outcomes:
            self._detector.update(float(value))
            if self._detector.drift_detected:
                found.append(self.seen)
            self.seen += 1
        self.detections.extend(found)
        return found

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "params": dict(self.params),
            "seen": self.seen,
            "detections": list(self.detections),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any], outcomes: Sequence[float]) -> OutcomeMonitor:
        """The monitor rebuilt by replaying the stream it had seen (see the module docstring)."""
        if len(outcomes) != data["seen"]:
            raise ReplayMismatch(
                f"the monitor had seen {data['seen']} outcomes but {len(outcomes)} were given: "
                "replay exactly the stored outcome stream"
            )
        monitor = cls(str(data["kind"]), data["params"])
        monitor.update(outcomes)
        if monitor.detections != list(data["detections"]):
            raise ReplayMismatch(
                "replaying the outcomes gave different detections than were recorded: the "
                "stored stream or the detector's parameters changed"
            )
        return monitor
