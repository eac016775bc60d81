"""The event-time replay: a history through the live detector process, slice by slice.

For each slice of rows (in event-time order) the driver

1. releases the labels that are due by the slice's first event time: one ``Feedback`` record
   (a chargeback) per fraud whose ``event time + label delay`` has passed, produced to
   ``fraud-feedback`` and applied by the detector process's own feedback loop, exactly as live
   labels are; a label therefore reaches state at the first slice boundary at or after its
   release time, never before;
2. sets the detector's clock to the slice's last event time (validation and state expiry run in
   event time, as they would have live);
3. produces the slice to ``transactions`` and polls the detector until it has handled all of it,
   collecting each row's outcome and feature row from the detector's ``on_batch`` hook.

Everything runs through :class:`~stream_sentinel.detector.runner.DetectorProcess`: decoding,
validation, state reads and writes, features, rules, the model, outputs and commits.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from itertools import pairwise

import numpy as np

from stream_sentinel.backtest.history import History
from stream_sentinel.backtest.outcomes import Outcomes
from stream_sentinel.backtest.training import FeatureLog, released_until
from stream_sentinel.backtest.wire import FeedbackWire, TransactionWire
from stream_sentinel.clients.backends import Backends
from stream_sentinel.clock import ManualClock
from stream_sentinel.config import Settings
from stream_sentinel.detector.models import ModelSource
from stream_sentinel.detector.runner import DetectorProcess
from stream_sentinel.detector.worker import Prepared
from stream_sentinel.errors import SentinelError, TransportError
from stream_sentinel.learning.aliases import CHAMPION
from stream_sentinel.learning.models import draft_of, load_model
from stream_sentinel.learning.registry import ModelRegistry
from stream_sentinel.scoring.model import ModelArtifact
from stream_sentinel.scoring.serving import ServingModel
from stream_sentinel.stream.loop import StreamLoop
from stream_sentinel.transport.base import Record
from stream_sentinel.transport.topics import TRANSACTIONS, Topics
from stream_sentinel.wire.serde import Serde

#: Give up when the detector makes no progress on a slice for this long (wall time).
STALL_TIMEOUT_S = 120.0
#: A row the detector rejected in a batch where nothing was valid (no reason reaches the hook).
UNREPORTED_REJECTION = "rejected"


def plan_slices(
    timestamps: np.ndarray, max_rows: int, max_span_ms: int | None, cuts: list[int]
) -> list[tuple[int, int]]:
    """Row ranges ``[start, stop)`` of at most ``max_rows`` rows and ``max_span_ms`` of event
    time, never crossing a cut (the evaluation start, a retraining time)."""
    n = len(timestamps)
    bounds = sorted({0, n, *(c for c in cuts if 0 < c < n)})
    slices = []
    for first, last in pairwise(bounds):
        start = first
        while start < last:
            stop = min(start + max_rows, last)
            if max_span_ms is not None:
                end = int(np.searchsorted(timestamps, timestamps[start] + max_span_ms, "left"))
                stop = min(stop, max(end, start + 1))
            slices.append((start, stop))
            start = stop
    return slices


class Replay:
    """Drives one detector process (detector + feedback loop) through a history."""

    def __init__(
        self,
        settings: Settings,
        backends: Backends,
        serde: Serde,
        history: History,
        clock: ManualClock,
        label_delay_ms: int,
    ) -> None:
        self.history = history
        self.clock = clock
        self.label_delay_ms = label_delay_ms
        self.models = ModelSource(None)
        self.registry = ModelRegistry(backends.state, clock)  # what the replay scores with
        self.state = backends.state  # the learner's training set shares it, as live
        # State written before the next batch, not beside it: which merchant counts a batch
        # reads must not depend on thread timing either. No decision-features rows: the replay
        # collects the same vectors itself (``self.features``), and an embedded broker keeps in
        # memory everything it carried.
        settings = settings.with_overrides(
            detector={"overlap_state_writes": False, "feature_log": False}
        )
        self.process = DetectorProcess(settings, backends, serde, clock=clock, models=self.models)
        state = self.process.detector.state
        # Merchant counters are re-read when labels change them (forget_merchants below), never
        # on a wall-clock timer: which labels a batch sees must not depend on how fast we run.
        state.merchant_refresh_s = math.inf
        self.process.detector.handler.on_batch = self._collect
        self.topics = Topics.from_settings(settings)
        self.outcomes = Outcomes(len(history))
        self.features: FeatureLog | None = FeatureLog()
        self.labels_released = 0
        #: Called with the history rows of each release's chargebacks (the learner's intake).
        self.on_labels: Callable[[list[int]], None] | None = None
        self._producer = backends.broker.producer()
        self._transactions = TransactionWire(serde)
        self._feedback = FeedbackWire(serde)
        self._released_to = 0  # rows below this have had their labels released
        self._processed = 0  # rows below this have been scored (or rejected)
        self._decoder = serde.decoder(TRANSACTIONS)
        self._where: dict[str, int] = {}  # transaction id -> history row, for the slice
        self._slice_start = 0

    def start(self) -> None:
        self.process.start()

    def close(self) -> None:
        self.process.close()
        self._producer.close()

    # -- one slice ----------------------------------------------------------------------------
    def serve(self, artifact: ModelArtifact, reason: str) -> ServingModel:
        """Register ``artifact`` in the replay's registry, make it champion and score with the
        champion as the registry loads it (hash-verified), as the live detectors do."""
        version, _ = self.registry.register(*draft_of(artifact, self.label_delay_ms))
        if self.registry.alias_state(CHAMPION)[0] != version.version:
            self.registry.promote(version.version, CHAMPION, reason, actor="backtest")
        served = load_model(self.registry, version.version)
        self.models.swap(served)
        return served

    def serve_version(self, version: str) -> ServingModel:
        """Score with a registered version (the champion a retrain left), hash-verified."""
        served = load_model(self.registry, version)
        self.models.swap(served)
        return served

    def run_slice(self, start: int, stop: int) -> None:
        ts = self.history.timestamp
        self.release_labels(int(ts[start]))
        self.clock.set(max(int(ts[stop - 1]), self.clock.now_ms()))
        self._slice_start = start
        if self.features is not None:
            self.features.open_slice(start, stop)
        ids = self.history.transaction_id[start:stop]
        self._where = dict(zip(ids, range(start, stop), strict=True))
        values = self._transactions.values(self.history.window(start, stop))
        produce, topic = self._producer.produce, self.topics.transactions
        for value, user in zip(values, self.history.user_id[start:stop], strict=True):
            produce(topic, value, user.encode())
        self._flush()
        detector = self.process.detector
        self._drain(detector.poll, detector.loop, stop - start, "transactions")
        self._processed = stop
        for row in np.flatnonzero(~self.outcomes.scored[start:stop]) + start:
            if int(row) not in self.outcomes.rejected:
                self.outcomes.reject(int(row), UNREPORTED_REJECTION)

    def release_labels(self, now_ms: int) -> int:
        """Send the chargebacks due by ``now_ms`` and let the feedback loop apply them."""
        ts, labels = self.history.timestamp, self.history.labels
        upto = min(released_until(ts, now_ms, self.label_delay_ms), self._processed)
        fraud = np.flatnonzero(labels[self._released_to : upto]) + self._released_to
        self._released_to = max(upto, self._released_to)
        rejected = self.outcomes.rejected  # a payment that never went through has no chargeback
        due = [row for row in fraud.tolist() if row not in rejected]
        if not due:
            return 0
        for row in due:
            release = int(ts[row]) + self.label_delay_ms
            value = self._feedback.value(self.history, row, release)
            key = self.history.user_id[row].encode()
            self._producer.produce(self.topics.fraud_feedback, value, key)
        self._flush()
        feedback = self.process.feedback
        self._drain(feedback.poll, feedback, len(due), "fraud-feedback")
        merchants = self.history.text.get("merchant_id")
        if merchants is not None:
            touched = {merchants[row] for row in due} - {None}
            self.process.detector.state.forget_merchants(sorted(str(m) for m in touched))
        self.labels_released += len(due)
        if self.on_labels is not None:
            self.on_labels(due)
        return len(due)

    # -- plumbing -----------------------------------------------------------------------------
    def _flush(self) -> None:
        if self._producer.flush(60.0):
            raise TransportError("the history could not be produced within 60 s")

    def _drain(self, poll: Callable[[], int], loop: StreamLoop, count: int, what: str) -> None:
        """Call ``poll`` until ``loop`` has handled ``count`` more records."""
        target = loop.stats.records + count
        progress_at, seen = time.monotonic(), loop.stats.records
        while loop.stats.records < target:
            poll()
            if loop.stats.records > seen:
                progress_at, seen = time.monotonic(), loop.stats.records
            elif time.monotonic() - progress_at > STALL_TIMEOUT_S:
                raise TransportError(
                    f"the detector stopped consuming {what}: {target - seen} records not handled "
                    f"after {STALL_TIMEOUT_S:.0f} s"
                )

    def _collect(self, prepared: Prepared) -> None:
        where = self._where  # transaction ids are unique (ingestion drops repeats)
        rows = np.array([where[t] for t in prepared.transaction_ids], dtype=np.int64)
        assert prepared.scored is not None
        self.outcomes.record(rows, prepared.scored)
        for position, rejection in prepared.rejected:
            row = self._rejected_row(prepared.records[position])
            if row is not None:
                self.outcomes.reject(row, rejection.error_type)
        if self.features is not None:
            self.features.add(self._slice_start, rows, prepared.features)

    def _rejected_row(self, record: Record) -> int | None:
        """The history row of a rejected record (its id, read back from the payload)."""
        try:
            transaction_id = self._decoder.decode(record.value())["transaction_id"]
        except SentinelError:
            return None
        return self._where.get(transaction_id)
