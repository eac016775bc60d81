"""Watching the run: every published transaction and label, every committed detector batch.

The generator side reports through :class:`TruthSink` (it wraps the real broker sink and notes
each batch's ground truth *before* sending it, so a verdict always finds its row); the detector
side through its ``on_batch`` hook, called once a batch's decisions are committed. Both run on
their own threads; :meth:`DemoObserver.snapshot` hands the display a consistent copy.
"""

from __future__ import annotations

import threading
from collections import Counter, deque
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from stream_sentinel.clock import Clock
from stream_sentinel.demo.ledger import Ledger, LedgerView, reason_mask
from stream_sentinel.detector.worker import Prepared
from stream_sentinel.domain import RiskLevel
from stream_sentinel.generator.batch import FeedbackBatch, TransactionBatch
from stream_sentinel.generator.catalog import PATTERN_NAMES
from stream_sentinel.generator.sinks import ForwardingSink, Sink
from stream_sentinel.logic.decisions import DECISIONS

LATEST_ALERTS = 50
ALERTS_PER_BATCH = 8  # only the last few of a batch can ever be on screen
RECENT_WINDOW_S = 5.0
RATE_WINDOW_S = 3.0


@dataclass(frozen=True, slots=True)
class AlertLine:
    """One alert as the latest-alerts panel shows it (``truth`` is the simulator's). Only
    MEDIUM and above: LOW alerts are the watch list's, acted on with MONITOR alone."""

    transaction_id: str
    user_id: str
    amount: float
    event_ms: int
    level: str
    decision: str
    score: float
    reasons: tuple[str, ...]
    contributions: tuple[tuple[str, float], ...]
    truth: str  # "legit" or the fraud pattern


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A consistent copy of what the run has seen so far."""

    sent: int
    decided: int
    dead_letters: int
    decisions: dict[str, int]
    alerts: dict[str, int]  # by risk level (LOW alerts: users on the watch list)
    labels_published: dict[str, int]  # FRAUD / LEGIT
    latest: tuple[AlertLine, ...]
    ledger: LedgerView
    latency_ms: npt.NDArray[np.float64]  # every decision so far (empty unless asked for)
    recent_latency_ms: npt.NDArray[np.float64]  # the last few seconds
    rate: float  # decisions per second over the last few seconds
    simulated_ms: int | None


@dataclass
class _Recent:
    """Per-batch figures of the last few seconds, for rates and recent latency."""

    batches: deque[tuple[float, int, npt.NDArray[np.float64]]] = field(default_factory=deque)

    def add(self, now: float, count: int, latency: npt.NDArray[np.float64]) -> None:
        self.batches.append((now, count, latency))
        while self.batches and now - self.batches[0][0] > RECENT_WINDOW_S:
            self.batches.popleft()

    def rate(self, now: float) -> float:
        counted = sum(n for t, n, _ in self.batches if now - t <= RATE_WINDOW_S)
        return counted / RATE_WINDOW_S

    def latency(self, now: float) -> npt.NDArray[np.float64]:
        parts = [lat for t, _, lat in self.batches if now - t <= RECENT_WINDOW_S]
        return np.concatenate(parts) if parts else np.empty(0)


class DemoObserver:
    """Joins ground truth, verdicts and labels by transaction; thread-safe."""

    def __init__(self, id_prefix: str, clock: Clock) -> None:
        self.id_prefix = id_prefix
        self.clock = clock
        self._lock = threading.Lock()
        self._ledger = Ledger()
        self._sent = self._decided = self._dead_letters = 0
        self._decisions: Counter[str] = Counter()
        self._alerts: Counter[str] = Counter()
        self._labels: Counter[str] = Counter()
        self._latest: deque[AlertLine] = deque(maxlen=LATEST_ALERTS)
        self._latencies: list[npt.NDArray[np.float64]] = []
        self._recent = _Recent()
        self._simulated_ms: int | None = None

    # -- the generator's side -----------------------------------------------------------------
    def on_sent(self, batch: TransactionBatch) -> None:
        if not len(batch):
            return
        with self._lock:
            self._ledger.add_sent(batch.seq, batch.pattern)
            self._sent += len(batch)
            self._simulated_ms = int(batch.timestamp[-1])

    def on_labels(self, labels: FeedbackBatch) -> None:
        if not len(labels):
            return
        fraud = int(labels.fraud.sum())
        with self._lock:
            self._ledger.add_labels(labels.seq, labels.fraud)
            self._labels["FRAUD"] += fraud
            self._labels["LEGIT"] += len(labels) - fraud

    # -- the detector's side ------------------------------------------------------------------
    def on_batch(self, prepared: Prepared) -> None:
        """The detector's hook: a batch's decisions are committed (detector thread)."""
        scored = prepared.scored
        if scored is None:
            return
        outcome, control = scored.outcome, scored.control
        seq = self._sequence_numbers(prepared)
        reasons = reason_mask(control.blocked, control.step_up, control.watched, scored.fired)
        produced = np.array([prepared.records[i].timestamp()[1] for i in prepared.good], float)
        latency = np.maximum(self.clock.now_ms() - produced, 0.0)
        known = seq >= 0
        with self._lock:
            self._ledger.add_verdicts(
                seq[known],
                outcome.scores[known],
                outcome.levels[known],
                outcome.decisions[known],
                reasons[known],
            )
            self._count(prepared, latency)
            self._latest.extendleft(self._alert_lines(prepared, seq))

    def _sequence_numbers(self, prepared: Prepared) -> npt.NDArray[np.int64]:
        """Each transaction's generator seq (-1 for a transaction the demo did not send)."""
        start = len(self.id_prefix)
        seq = []
        for tx in prepared.txs:
            transaction_id: str = tx["transaction_id"]
            digits = transaction_id[start:]
            ours = transaction_id.startswith(self.id_prefix) and digits.isdigit()
            seq.append(int(digits) if ours else -1)
        return np.array(seq, dtype=np.int64)

    def _count(self, prepared: Prepared, latency: npt.NDArray[np.float64]) -> None:
        assert prepared.scored is not None
        outcome = prepared.scored.outcome
        self._decided += len(prepared.txs)
        self._dead_letters += len(prepared.rejected)
        for code, n in zip(*np.unique(outcome.decisions, return_counts=True), strict=True):
            self._decisions[DECISIONS[code].value] += int(n)
        levels = outcome.levels[outcome.alerts]
        for code, n in zip(*np.unique(levels, return_counts=True), strict=True):
            self._alerts[RiskLevel(int(code)).name] += int(n)
        self._latencies.append(latency)
        self._recent.add(self.clock.monotonic(), len(prepared.txs), latency)

    def _alert_lines(self, prepared: Prepared, seq: npt.NDArray[np.int64]) -> list[AlertLine]:
        scored = prepared.scored
        assert scored is not None
        outcome = scored.outcome
        shown = outcome.alerts & (outcome.levels >= int(RiskLevel.MEDIUM))
        rows = np.flatnonzero(shown)[-ALERTS_PER_BATCH:].tolist()
        reasons = scored.reasons()
        lines = []
        for row in rows:
            tx = prepared.txs[row]
            lines.append(
                AlertLine(
                    transaction_id=tx["transaction_id"],
                    user_id=tx["user_id"],
                    amount=float(tx["amount"]),
                    event_ms=int(tx["timestamp"]),
                    level=RiskLevel(int(outcome.levels[row])).name,
                    decision=DECISIONS[int(outcome.decisions[row])].value,
                    score=float(outcome.scores[row]),
                    reasons=tuple(reasons[row]),
                    contributions=tuple(scored.contributions.get(row, ())),
                    truth=self._truth(int(seq[row])),
                )
            )
        return lines

    def _truth(self, seq: int) -> str:
        if seq < 0:
            return "?"
        return PATTERN_NAMES[self._ledger.pattern_of(seq)] or "legit"

    # -- the display's side -------------------------------------------------------------------
    def snapshot(self, every_latency: bool = False) -> Snapshot:
        """What the run has seen; ``every_latency``: with every decision's latency (the
        summary), else only the last few seconds' (the live view)."""
        now = self.clock.monotonic()
        with self._lock:
            latencies = np.empty(0)
            if every_latency and self._latencies:
                latencies = np.concatenate(self._latencies)
                self._latencies = [latencies]
            return Snapshot(
                sent=self._sent,
                decided=self._decided,
                dead_letters=self._dead_letters,
                decisions=dict(self._decisions),
                alerts=dict(self._alerts),
                labels_published=dict(self._labels),
                latest=tuple(self._latest),
                ledger=self._ledger.view(),
                latency_ms=latencies.copy(),
                recent_latency_ms=self._recent.latency(now),
                rate=self._recent.rate(now),
                simulated_ms=self._simulated_ms,
            )

    @property
    def sent(self) -> int:
        return self._sent

    @property
    def decided(self) -> int:
        return self._decided

    @property
    def dead_letters(self) -> int:
        return self._dead_letters

    @property
    def alerts_raised(self) -> int:
        with self._lock:
            return sum(self._alerts.values())

    @property
    def labels_sent(self) -> int:
        with self._lock:
            return sum(self._labels.values())


class TruthSink(ForwardingSink):
    """A sink that tells the observer what it sends (ground truth first), then sends it."""

    def __init__(self, inner: Sink, observer: DemoObserver) -> None:
        super().__init__(inner)
        self.observer = observer

    def write(self, batch: TransactionBatch) -> None:
        self.observer.on_sent(batch)
        self.inner.write(batch)

    def write_labels(self, labels: FeedbackBatch) -> None:
        self.observer.on_labels(labels)
        self.inner.write_labels(labels)
