"""Fraud-rate control: the realised rate tracks ``fraud_rate`` whatever the population size,
throughput or pattern mix.

For a fraud rate f, fraud and genuine traffic must stand at odds f / (1 - f): each genuine
legitimate event makes the budget owe ``f / (1 - f)`` fraud events, split over the patterns by
the scenario's mix. Compromised-merchant fraud relabels legitimate events (it never adds any);
the other patterns inject episodes, and together they cover whatever the budget owes, so a
pattern that cannot deliver its share (too few compromised shops) is made up by the others.
Episodes land after they are scheduled, so the budget also owes what is normally still pending:
each pattern's recent scheduling rate times its lead time. That way what has been *emitted*
tracks the rate, not what is scheduled, even for short runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from stream_sentinel.generator.catalog import COMPROMISED_MERCHANT, PATTERN_NAMES
from stream_sentinel.generator.patterns import MEAN_EVENT_LEAD_MIN

F64 = npt.NDArray[np.float64]
MEMORY_MS = 6 * 3_600_000.0  # how far back the recent scheduling rate looks (simulated)
MAX_ODDS = 50.0  # a fraud rate near 1 would owe unbounded fraud per legitimate event
LEAD_MS = np.array([MEAN_EVENT_LEAD_MIN.get(c, 0.0) * 60_000.0 for c in range(len(PATTERN_NAMES))])


@dataclass(slots=True)
class FraudBudget:
    rate: float
    target: F64 = field(default_factory=lambda: np.zeros(len(PATTERN_NAMES)))
    scheduled: npt.NDArray[np.int64] = field(
        default_factory=lambda: np.zeros(len(PATTERN_NAMES), dtype=np.int64)
    )
    recent: F64 = field(default_factory=lambda: np.zeros(len(PATTERN_NAMES)))
    recent_ms: float = 0.0

    @property
    def odds(self) -> float:
        return min(self.rate / (1.0 - self.rate), MAX_ODDS) if self.rate < 1.0 else MAX_ODDS

    def prime(self, events_per_ms: float, mix: F64) -> None:
        """Start from the steady-state scheduling rate of each pattern."""
        self.recent = self.rate * events_per_ms * MEMORY_MS * mix
        self.recent_ms = MEMORY_MS

    def accrue(self, genuine_events: int, mix: F64) -> None:
        """Owe fraud for ``genuine_events`` legitimate events, split by ``mix``."""
        self.target += self.odds * genuine_events * mix

    def observe(self, scheduled_now: F64, span_ms: float) -> None:
        """Fold one step's scheduled events (by pattern) into the recent rate."""
        decay = float(np.exp(-span_ms / MEMORY_MS))
        self.recent = self.recent * decay + scheduled_now
        self.recent_ms = self.recent_ms * decay + span_ms

    def pending_allowance(self) -> F64:
        """Events each pattern normally has scheduled but not yet emitted."""
        return self.recent / max(self.recent_ms, 1.0) * LEAD_MS

    def record(self, pattern: int, events: int) -> None:
        self.scheduled[pattern] += events

    def deficit(self, pattern: int) -> float:
        allowance = self.pending_allowance()[pattern]
        return float(self.target[pattern] + allowance - self.scheduled[pattern])

    def total_owed(self) -> float:
        return float((self.target + self.pending_allowance()).sum() - self.scheduled.sum())

    def relabel_allowance(self, pattern: int = COMPROMISED_MERCHANT) -> int:
        """How many events compromised shops may turn into fraud now, never beyond the total."""
        return max(int(min(self.deficit(pattern), self.total_owed())), 0)

    def injections(self, injected: list[int], mix: F64) -> dict[int, float]:
        """Fraud events each injecting pattern should schedule now; together the total owed."""
        owed = self.total_owed()
        if owed <= 0:
            return {}
        owed_by = self.target + self.pending_allowance() - self.scheduled
        behind = np.maximum(owed_by[injected], 0.0)
        weights = behind if behind.sum() > 0 else mix[injected]
        if weights.sum() <= 0:
            return {}
        return {code: owed * w / weights.sum() for code, w in zip(injected, weights, strict=True)}


def injected_share(mix: F64) -> float:
    """Share of fraud that adds events (everything but relabelled compromised-merchant traffic)."""
    return float(1.0 - mix[COMPROMISED_MERCHANT])
