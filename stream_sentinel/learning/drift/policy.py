"""Which alarms ask the learner for a retrain: a pure rule over one window's alarms.

A critical alarm of a prediction monitor (``retrain_monitors``: the score distribution, the
alert rate, the estimated precision), or a critical feature alarm on a feature the model leans
on (``retrain_features``), or (with ``performance``) a critical alarm of a labelled
performance monitor (the error rate up, or the precision down), asks for one retrain; after a
request, the version's windows within ``cooldown_hours`` (event time) ask for none, so a
lasting change is one request, not one per hour.

>>> from stream_sentinel.learning.drift.events import DriftEvent
>>> alarm = DriftEvent("id", "feature", "amount", "psi", 0.9, 0.1, 1e-9, 1e-3, 0, 3_600_000,
...                    100_000, 3000, "critical", "m-1", 3_900_000)
>>> RetrainPolicy(("alert-rate",), ("amount",), 24).reason([alarm], None)
'critical feature drift on amount (psi 0.9 > 0.1) in m-1 window 1970-01-01T00:00Z'
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from stream_sentinel.learning.drift.events import OUTCOME_MEAN, DriftEvent
from stream_sentinel.logic.drift.outcomes import MONITORS
from stream_sentinel.logic.drift.window import HOUR_MS


@dataclass(frozen=True, slots=True)
class RetrainPolicy:
    monitors: tuple[str, ...]
    features: tuple[str, ...]
    cooldown_hours: int
    performance: bool = True  # labelled performance alarms ask for a retrain

    def qualifies(self, event: DriftEvent) -> bool:
        if event.severity != "critical":
            return False
        if event.monitor in MONITORS:
            return self.performance
        if event.monitor == "feature":
            return event.feature in self.features
        return event.monitor in self.monitors

    def reason(self, events: Sequence[DriftEvent], last_request_ms: int | None) -> str | None:
        """Why the window of ``events`` asks for a retrain, or None when it does not."""
        found = [e for e in events if self.qualifies(e)]
        if not found:
            return None
        start = found[0].window_start
        if last_request_ms is not None and start - last_request_ms < self.cooldown_hours * HOUR_MS:
            return None
        first = found[0]
        what = "feature drift" if first.monitor == "feature" else first.monitor
        on = f" on {first.feature}" if first.feature else ""
        when = datetime.fromtimestamp(start / 1000, UTC).strftime("%Y-%m-%dT%H:%MZ")
        if first.statistic == OUTCOME_MEAN:
            return (
                f"critical {what} (outcome mean {first.value:.3g}, was {first.threshold:.3g}) "
                f"in {first.model_version} window {when}"
            )
        return (
            f"critical {what}{on} ({first.statistic} {first.value:.3g} > "
            f"{first.threshold:.3g}) in {first.model_version} window {when}"
        )
