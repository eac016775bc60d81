"""The simulator: a pure, seeded state machine that emits columnar transaction batches.

Legitimate traffic is generated in fixed-size chunks (so the output does not depend on how callers
slice it), fraud episodes are scheduled into a bounded pending queue and merged in at their
time, and labels are released only after their delay. See :mod:`stream_sentinel.generator` for
the API in one place.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from stream_sentinel.domain import Feedback, Transaction
from stream_sentinel.errors import UsageError
from stream_sentinel.generator import catalog, patterns
from stream_sentinel.generator import domain_objects as records
from stream_sentinel.generator.batch import FeedbackBatch, TransactionBatch
from stream_sentinel.generator.behaviour import (
    DAY_MS,
    Phase,
    arrivals,
    legit_batch,
    start_trips,
)
from stream_sentinel.generator.compromise import CompromiseWindows
from stream_sentinel.generator.fraud_budget import FraudBudget, injected_share
from stream_sentinel.generator.labels import LabelPolicy, LabelQueue, draft_labels
from stream_sentinel.generator.population import MAX_USERS, Population, build_population
from stream_sentinel.generator.scenarios import Scenario, get_scenario, mix_vector

#: 2025-01-01T00:00:00Z: where a simulated period starts unless told otherwise.
DEFAULT_START_MS = 1_735_689_600_000
DEFAULT_TX_PER_USER_DAY = 4.0
I64 = npt.NDArray[np.int64]

_EPISODIC = {
    catalog.CARD_TESTING: patterns.card_testing,
    catalog.ACCOUNT_TAKEOVER: patterns.account_takeover,
    catalog.VELOCITY_BURST: patterns.velocity_burst,
    catalog.HIGH_AMOUNT_OUTLIER: patterns.high_amount_outlier,
}


def transaction_id_prefix(seed: int) -> str:
    """Transaction ids are ``{prefix}{seq:010d}``; the seed keeps runs apart."""
    return f"t{seed}-"


@dataclass(frozen=True, slots=True)
class SimulationConfig:
    """What to simulate. Times are simulated epoch milliseconds."""

    users: int = 10_000
    fraud_rate: float = 0.01
    scenario: str = "baseline"
    start_ms: int = DEFAULT_START_MS
    switch_at_ms: int | None = None  # drift switch; None: the scenario never switches
    end_ms: int | None = None  # no event after this time is ever produced
    tx_per_user_day: float = DEFAULT_TX_PER_USER_DAY  # average, fraud included
    labels: LabelPolicy = field(default_factory=LabelPolicy)
    chunk_size: int = 8192  # legitimate events generated per internal step
    pattern_mix: Mapping[str, float] | None = None  # replaces the scenario's mix (both phases)

    @property
    def events_per_ms(self) -> float:
        return self.users * self.tx_per_user_day / DAY_MS

    def validate(self) -> None:
        checks = [
            (1 <= self.users <= MAX_USERS, f"users must be between 1 and {MAX_USERS:,}"),
            (0.0 <= self.fraud_rate <= 1.0, "fraud rate must be between 0 and 1 (0.01 = 1%)"),
            (self.tx_per_user_day > 0, "transactions per user and day must be positive"),
            (self.chunk_size >= 1, "chunk size must be at least 1"),
            (self.labels.delay_ms >= 0, "label delay must not be negative"),
            (self.end_ms is None or self.end_ms > self.start_ms, "the end must be after the start"),
        ]
        for share in (self.labels.legit_share, self.labels.noise, self.labels.missing):
            checks.append((0.0 <= share <= 1.0, "label shares must be between 0 and 1"))
        for ok, message in checks:
            if not ok:
                raise UsageError(message)
        get_scenario(self.scenario)


@dataclass(slots=True)
class SimulationStats:
    """What has been served so far (counts by pattern code, time span)."""

    by_pattern: I64 = field(default_factory=lambda: np.zeros(len(catalog.PATTERN_NAMES), np.int64))
    first_ms: int | None = None
    last_ms: int | None = None
    labels_released: int = 0
    fraud_labels_released: int = 0

    @property
    def events(self) -> int:
        return int(self.by_pattern.sum())

    @property
    def fraud(self) -> int:
        return int(self.by_pattern[1:].sum())

    @property
    def realised_fraud_rate(self) -> float:
        return self.fraud / self.events if self.events else 0.0

    def pattern_counts(self) -> dict[str, int]:
        return {catalog.PATTERN_NAMES[c]: int(n) for c, n in enumerate(self.by_pattern) if c}

    def add(self, batch: TransactionBatch) -> None:
        if not len(batch):
            return
        self.by_pattern += np.bincount(batch.pattern, minlength=len(catalog.PATTERN_NAMES))
        if self.first_ms is None:
            self.first_ms = int(batch.timestamp[0])
        self.last_ms = int(batch.timestamp[-1])


@dataclass(slots=True)
class DriftPoint:
    """The scenario's switch: when it happens and the first transaction at or after it."""

    scenario: str
    switch_ms: int | None
    first_seq_after: int | None = None


@dataclass(slots=True)
class _Chunk:
    events: TransactionBatch
    labels: FeedbackBatch
    label_rows: I64
    served: int = 0

    @property
    def remaining(self) -> int:
        return len(self.events) - self.served


class Simulator:
    """A seeded card-payment simulator. Same config and seed: same batches, byte for byte."""

    def __init__(self, config: SimulationConfig, seed: int = 0) -> None:
        config.validate()
        self.config, self.seed = config, seed
        streams = np.random.SeedSequence(seed).spawn(4)
        population_rng, self._rng, fraud_rng, self._label_rng = (
            np.random.default_rng(s) for s in streams
        )
        self.population: Population = build_population(config.users, population_rng)
        self.scenario: Scenario = get_scenario(config.scenario)
        switch = config.switch_at_ms if self.scenario.drifts else None
        self.drift = DriftPoint(self.scenario.name, switch)
        self._phase = Phase(math.inf if switch is None else switch, self.scenario.legit_after)
        self._mixes = self._pattern_mixes()
        self._budget = FraudBudget(config.fraud_rate)
        self._budget.prime(config.events_per_ms, self._mixes[0])
        self._fraud = patterns.FraudContext(self.population, fraud_rng)
        self._windows = CompromiseWindows(self.population.merchants)
        self._pending = TransactionBatch.empty()
        self._buffer: deque[_Chunk] = deque()
        self._labels = LabelQueue(config.labels.delay_ms // 2)
        self._cursor_ms = float(config.start_ms)
        self._next_seq = 0
        self.stats = SimulationStats()
        self.exhausted = False
        self.id_prefix = transaction_id_prefix(seed)

    # -- the API ---------------------------------------------------------------------------------
    def next_batch(self, count: int) -> TransactionBatch:
        """The next ``count`` transactions in event-time order (fewer only once exhausted)."""
        parts: list[TransactionBatch] = []
        while count > 0 and not (self.exhausted and not self._buffer):
            if not self._buffer:
                self._buffer.append(self._next_chunk())
                continue
            part = self._serve(self._buffer[0], count)
            parts.append(part)
            count -= len(part)
            if self._buffer[0].remaining == 0:
                self._buffer.popleft()
        batch = TransactionBatch.concat(parts)
        self.stats.add(batch)
        self._note_switch(batch)
        return batch

    def labels_due(self, until_ms: int) -> FeedbackBatch:
        """Labels of served transactions whose label time is ``<= until_ms``, in time order."""
        labels = self._labels.pop_due(until_ms)
        self.stats.labels_released += len(labels)
        self.stats.fraud_labels_released += int(labels.fraud.sum())
        return labels

    def transactions(self, batch: TransactionBatch) -> list[Transaction]:
        """The batch as domain objects (ids as strings, no ground truth)."""
        return records.transactions(batch, self.population, self.id_prefix)

    def feedback(self, labels: FeedbackBatch) -> list[Feedback]:
        return records.feedback(labels, self.population, self.id_prefix)

    @property
    def finished(self) -> bool:
        """True once the simulated period's end is reached and every event has been served."""
        return self.exhausted and all(chunk.remaining == 0 for chunk in self._buffer)

    @property
    def labels_pending(self) -> int:
        return len(self._labels)

    @property
    def now_ms(self) -> int:
        """Event time of the last served transaction (the start before any)."""
        return self.stats.last_ms if self.stats.last_ms is not None else self.config.start_ms

    # -- serving ---------------------------------------------------------------------------------
    def _serve(self, chunk: _Chunk, count: int) -> TransactionBatch:
        start = chunk.served
        stop = start + min(count, chunk.remaining)
        low, high = np.searchsorted(chunk.label_rows, [start, stop])
        self._labels.push(chunk.labels.take(slice(int(low), int(high))))
        chunk.served = stop
        return chunk.events.take(slice(start, stop))

    def _note_switch(self, batch: TransactionBatch) -> None:
        drift = self.drift
        if drift.switch_ms is None or drift.first_seq_after is not None or not len(batch):
            return
        after = np.flatnonzero(batch.timestamp >= drift.switch_ms)
        if len(after):
            drift.first_seq_after = int(batch.seq[after[0]])

    # -- one chunk -------------------------------------------------------------------------------
    def _next_chunk(self) -> _Chunk:
        start = self._cursor_ms
        legit_rate = self._legit_rate(start)
        times, users = arrivals(
            self.population, self._rng, start, self.config.chunk_size, legit_rate, self._phase
        )
        end = float(times[-1])
        self._cursor_ms = end
        legit = legit_batch(self.population, self._rng, times, users, self._phase)
        start_trips(self.population, self._rng, legit)
        mix = self._mix_between(start, end)
        self._relabel_compromised(legit, mix, int(end))
        self._schedule_episodes(legit, start, end, mix)
        events = self._merge_due(legit, int(end))
        return self._finish(events)

    def _legit_rate(self, at_ms: float) -> float:
        """Legitimate arrivals per ms, leaving room for the fraud events that get injected."""
        mix = self._mixes[1] if at_ms >= self._phase.switch_ms else self._mixes[0]
        share = max(1.0 - self.config.fraud_rate * injected_share(mix), 0.02)
        return self.config.events_per_ms * share

    def _pattern_mixes(self) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        if self.config.pattern_mix is not None:
            fixed = mix_vector(self.config.pattern_mix)
            return fixed, fixed
        return self.scenario.mix(False), self.scenario.mix(True)

    def _mix_between(self, start: float, end: float) -> npt.NDArray[np.float64]:
        """The pattern mix averaged over [start, end] (a chunk may straddle the switch)."""
        after = float(np.clip((end - self._phase.switch_ms) / max(end - start, 1.0), 0.0, 1.0))
        return (1.0 - after) * self._mixes[0] + after * self._mixes[1]

    def _window(self, pattern: int, start: float, end: float) -> tuple[float, float]:
        """Where episodes of ``pattern`` may start: not in a phase where its share is zero."""
        switch = self._phase.switch_ms
        if start < switch < end:
            if self._mixes[0][pattern] == 0:
                return switch, end
            if self._mixes[1][pattern] == 0:
                return start, switch
        return start, end

    def _relabel_compromised(
        self, legit: TransactionBatch, mix: npt.NDArray[np.float64], now_ms: int
    ) -> None:
        code = catalog.COMPROMISED_MERCHANT
        self._budget.accrue(len(legit), mix)
        allowance = self._budget.relabel_allowance(code)
        relabelled = self._windows.relabel(self._rng, legit, allowance)
        self._budget.record(code, relabelled)
        self._budget.accrue(-relabelled, mix)  # relabelled events are no longer genuine
        self._windows.observe(legit)
        # Behind by more than about a chunk's worth: the open windows are too few or too quiet.
        behind = self._budget.deficit(code) - (self._budget.odds * len(legit) * mix[code] + 5.0)
        if behind > 0:
            self._windows.open(self._rng, behind, now_ms)

    def _schedule_episodes(
        self, legit: TransactionBatch, start: float, end: float, mix: npt.NDArray[np.float64]
    ) -> None:
        owed = self._budget.injections([*_EPISODIC, catalog.IMPOSSIBLE_TRAVEL], mix)
        new: list[TransactionBatch] = []
        for code, build in _EPISODIC.items():
            count = int(owed.get(code, 0.0) / patterns.MEAN_EPISODE_SIZE[code] + 0.5)
            if count:
                new.append(build(self._fraud, count, self._window(code, start, end)))
        travel = owed.get(catalog.IMPOSSIBLE_TRAVEL, 0.0)
        count = int(travel / patterns.MEAN_EPISODE_SIZE[catalog.IMPOSSIBLE_TRAVEL] + 0.5)
        new.append(self._impossible_travel(legit, start, end, count))
        counts = np.zeros(len(catalog.PATTERN_NAMES), dtype=np.int64)
        for episode_batch in new:
            counts += np.bincount(episode_batch.pattern, minlength=len(catalog.PATTERN_NAMES))
        for code in np.flatnonzero(counts).tolist():
            self._budget.record(code, int(counts[code]))
        self._budget.observe(counts.astype(np.float64), end - start)
        self._pending = TransactionBatch.concat([self._pending, *new])

    def _impossible_travel(
        self, legit: TransactionBatch, start: float, end: float, count: int
    ) -> TransactionBatch:
        low, _ = self._window(catalog.IMPOSSIBLE_TRAVEL, start, end)
        people = self.population.users
        at_home = (legit.timestamp < people.trip_from[legit.user]) | (
            legit.timestamp >= people.trip_until[legit.user]
        )
        candidates = np.flatnonzero(at_home & (legit.timestamp >= low) & ~legit.is_fraud)
        count = min(count, len(candidates))
        if count == 0:
            return TransactionBatch.empty()
        anchors = np.sort(self._fraud.rng.choice(candidates, count, replace=False))
        return patterns.impossible_travel(self._fraud, legit.take(anchors))

    def _merge_due(self, legit: TransactionBatch, end_ms: int) -> TransactionBatch:
        due = self._pending.timestamp <= end_ms
        events = TransactionBatch.concat([legit, self._pending.take(due)]).sorted_by_time()
        self._pending = self._pending.take(~due)
        limit = self.config.end_ms
        if limit is not None and end_ms >= limit:
            events = events.take(events.timestamp <= limit)
            self.exhausted = True
        return events

    def _finish(self, events: TransactionBatch) -> _Chunk:
        events.seq[:] = self._next_seq + np.arange(len(events))
        self._next_seq += len(events)
        labels, rows = draft_labels(self._label_rng, events, self.config.labels)
        return _Chunk(events, labels, rows)
