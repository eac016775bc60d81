"""One detector worker: the detector's handler on the shared exactly-once loop.

Per batch (DESIGN section 6): check and decode the records (bad ones become dead letters) ->
one state read -> features -> rules + model -> a decision for every transaction and an alert for
the risky ones -> (the loop) outputs and offsets committed together -> one guarded state write.
See :mod:`stream_sentinel.stream.loop` for the commit, rebalance and repair protocol.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from stream_sentinel.clients.backends import Backends
from stream_sentinel.clock import SYSTEM_CLOCK, Clock
from stream_sentinel.config import Settings
from stream_sentinel.detector import outputs
from stream_sentinel.detector.dedup import id_hash
from stream_sentinel.detector.feature_log import require_topic
from stream_sentinel.detector.intake import Intake, RowView, TransactionIntake
from stream_sentinel.detector.metrics import DetectorMetrics
from stream_sentinel.detector.models import ModelSource
from stream_sentinel.detector.output_writer import OutputWriter
from stream_sentinel.detector.scorer import Scored, score_batch
from stream_sentinel.detector.shadow import ChallengerModels
from stream_sentinel.detector.state_access import DetectorState, PartitionDelta
from stream_sentinel.detector.validation import Rejection
from stream_sentinel.logic import merchants as merchant_state
from stream_sentinel.logic.features import MerchantStats, TxBatch, featurize
from stream_sentinel.logic.profile import DAY_MS, encode_profiles
from stream_sentinel.logic.rules import ControlFlags
from stream_sentinel.stream.deadletters import LetterBudget, letter_budget
from stream_sentinel.stream.loop import Output, Step, StreamLoop
from stream_sentinel.stream.watchdog import Watchdog
from stream_sentinel.transport.base import Record
from stream_sentinel.transport.topics import TRANSACTIONS, Topics
from stream_sentinel.wire.serde import Serde

LATENCY_SAMPLES = 32


@dataclass
class Prepared:
    """A handled batch: the valid transactions, their features and scores, the rejects."""

    records: Sequence[Record]
    intake: Intake  # the valid transactions as columns (row i is records[intake.good[i]])
    features: np.ndarray
    scored: Scored | None
    deltas: dict[int, PartitionDelta]
    decided_time: int = 0
    # per valid row: its state was applied by this batch (False: already applied once, so its
    # features were computed from a later state and are not logged); None: all applied
    applied: np.ndarray | None = None

    @property
    def good(self) -> list[int]:
        """Positions in ``records`` of the valid transactions."""
        return self.intake.good

    @property
    def rejected(self) -> list[tuple[int, Rejection]]:
        return self.intake.rejected

    @property
    def transaction_ids(self) -> list[str]:
        return self.intake.transaction_id

    @property
    def txs(self) -> Sequence[dict[str, Any]]:
        """The valid transactions as dicts, built on access (observers; not the hot path)."""
        return RowView(self.intake)


@dataclass
class DetectorStats:
    """What a worker decided, for its summary and `status`."""

    decisions: Counter[str] = field(default_factory=Counter)
    alerts: Counter[str] = field(default_factory=Counter)
    dead_letters: Counter[str] = field(default_factory=Counter)


class DetectorHandler:
    """Turns a batch of transaction records into decisions, alerts and state writes."""

    def __init__(
        self,
        settings: Settings,
        state: DetectorState,
        serde: Serde,
        models: ModelSource,
        metrics: DetectorMetrics,
        clock: Clock,
        challenger: ChallengerModels | None = None,
    ) -> None:
        self.settings = settings
        self.state = state
        self.models = models
        self.challenger = challenger
        self.metrics = metrics
        self.clock = clock
        self.topics = Topics.from_settings(settings)
        self.stats = DetectorStats()
        self.on_batch: Callable[[Prepared], None] | None = None  # observers: demo, backtest
        self._intake = TransactionIntake(
            serde.registry, serde.decoder(TRANSACTIONS), settings.detector
        )
        self._output_writer = OutputWriter(settings, serde, self.topics)
        self.letter_budget = LetterBudget()  # the dead-letter topic's, once the worker starts

    # -- Handler ------------------------------------------------------------------------------
    def handle(self, records: Sequence[Record], applies: np.ndarray, emit: bool) -> Step:
        prepared = self.prepare(records, applies, score=emit)
        step = Step(payload=prepared)
        if emit:
            step.outputs = self._outputs(prepared)
        step.state = {p: self.state.state_batch(p, d) for p, d in prepared.deltas.items()}
        return step

    def staged(self, step: Step) -> None:
        """Decisions committed, state write in flight: the next batch reads this one's profiles
        and merchant counts from the cache (the worker is their only writer)."""
        prepared: Prepared = step.payload
        self.state.remember(prepared.deltas)
        self._observe(step)

    def committed(self, step: Step, applied: dict[int, bool]) -> None:
        prepared: Prepared = step.payload
        # a replay or a rebuild: Redis holds the truth, the cache may not
        self.state.forget_partitions([p for p in prepared.deltas if not applied.get(p)])
        if not step.staged:
            self.state.remember({p: d for p, d in prepared.deltas.items() if applied.get(p)})
            self._observe(step)

    def _observe(self, step: Step) -> None:
        prepared: Prepared = step.payload
        if step.outputs or prepared.scored is not None:  # a live batch, not a repair
            self._account(prepared)
        if prepared.scored is not None and self.on_batch is not None:
            self.on_batch(prepared)

    def forget(self, partitions: list[int]) -> None:
        if partitions:
            self.state.forget_partitions(partitions)
            # A repair re-applies merchant increments the cached counters may already hold.
            self.state.forget_all_merchants()

    # -- the pure-ish part --------------------------------------------------------------------
    def prepare(self, records: Sequence[Record], applies: np.ndarray, score: bool) -> Prepared:
        """Check, decode and featurize a batch (and score it when ``score``)."""
        now = self.clock.now_ms()
        stage = self.metrics.stage
        t0 = time.perf_counter()
        intake = self._intake.take(records, now)
        hashes = [id_hash(t) for t in intake.transaction_id]
        intake, hashes = self._without_duplicates(records, intake, hashes, applies)
        t1 = time.perf_counter()
        stage.labels("decode").observe(t1 - t0)
        deltas = {r.partition() or 0: PartitionDelta() for r in records}
        for position, rejection in intake.rejected:
            if applies[position]:  # a reject below the watermark was counted the first time
                deltas[records[position].partition() or 0].dead_letters[rejection.error_type] += 1
        if not len(intake):
            return Prepared(records, intake, np.empty((0, 0)), None, deltas, now)
        columns = intake.columns()
        tx = columns.tx
        partitions = np.array([records[i].partition() or 0 for i in intake.good], dtype=np.int64)
        event_day = int(tx.ts.max() // DAY_MS)
        merchants = columns.merchants if score else []
        batch_state = self.state.read(columns.users, merchants, event_day)
        t2 = time.perf_counter()
        stage.labels("state_read").observe(t2 - t1)
        stats = batch_state.merchant_stats if score else MerchantStats.empty(len(columns.merchants))
        applied = applies[intake.good]
        features = _featurize(batch_state.profiles, tx, stats, applied)
        t3 = time.perf_counter()
        stage.labels("features").observe(t3 - t2)
        self._record_deltas(
            deltas, columns.users, columns.merchants, tx, partitions, applied, batch_state.profiles
        )
        for row in np.flatnonzero(applied).tolist():
            offset = records[intake.good[row]].offset() or 0
            deltas[int(partitions[row])].seen.append((hashes[row], offset))
        scored = None
        if score:
            scored = self._score(features, batch_state.control_for(tx.user_ix), columns.users, tx)
            stage.labels("score").observe(time.perf_counter() - t3)
        return Prepared(records, intake, features, scored, deltas, now, applied=applied)

    def _score(
        self, features: np.ndarray, control: ControlFlags, users: list[str], tx: TxBatch
    ) -> Scored:
        """The batch decided by the champion, or by the arms of a running split experiment."""
        champion = self.models.current
        if self.challenger is None:
            return score_batch(features, control, champion, self.settings)
        return self.challenger.score(features, control, champion, self.settings, users, tx.user_ix)

    def _without_duplicates(
        self, records: Sequence[Record], intake: Intake, hashes: list[int], applies: np.ndarray
    ) -> tuple[Intake, list[int]]:
        """A payment whose id this partition already decided is a dead letter, not a decision."""
        good = intake.good
        partitions = [records[i].partition() or 0 for i in good]
        offsets = [records[i].offset() or 0 for i in good]
        rows = self.state.seen.duplicates(partitions, offsets, hashes, applies[good].tolist())
        if not rows:
            return intake, hashes
        rejections = [
            Rejection(
                "duplicate",
                f"transaction {intake.transaction_id[r]} was already decided (a re-sent "
                "payment): its first decision stands",
            )
            for r in rows
        ]
        dropped = set(rows)
        return intake.without(rows, rejections), [
            h for r, h in enumerate(hashes) if r not in dropped
        ]

    @staticmethod
    def _record_deltas(
        deltas: dict[int, PartitionDelta],
        users: list[str],
        merchants: list[str],
        tx: TxBatch,
        partitions: np.ndarray,
        applied: np.ndarray,
        profiles: np.ndarray,
    ) -> None:
        blobs = encode_profiles(profiles)
        for row in np.flatnonzero(applied):
            user = int(tx.user_ix[row])
            deltas[int(partitions[row])].profiles[users[user]] = blobs[user]
        days = tx.ts // DAY_MS
        for partition in np.unique(partitions):
            rows = applied & (partitions == partition)
            volume = deltas[int(partition)].merchant_volume
            for m_ix, day, n in merchant_state.volume_increments(tx.merchant_ix[rows], days[rows]):
                volume[(merchants[m_ix], day)] += n

    # -- outputs ------------------------------------------------------------------------------
    def _outputs(self, prepared: Prepared) -> list[Output]:
        t0 = time.perf_counter()
        records, scored = prepared.records, prepared.scored
        decided = self.clock.now_ms()
        prepared.decided_time = decided
        out: list[Output] = []
        if scored is not None:
            out += self._output_writer.scores_and_alerts(records, prepared.intake, scored, decided)
            out += self._output_writer.decision_features(
                records, prepared.intake, prepared.features, scored, decided, prepared.applied
            )
        out += self._output_writer.dead_letters(
            records, prepared.rejected, decided, self.letter_budget
        )
        self.metrics.stage.labels("produce").observe(time.perf_counter() - t0)
        return out

    def _account(self, prepared: Prepared) -> None:
        stats, metrics = self.stats, self.metrics
        metrics.records_in.inc(len(prepared.records))
        metrics.batch_size.observe(len(prepared.records))
        for _, rejection in prepared.rejected:
            stats.dead_letters[rejection.error_type] += 1
            metrics.dead_letters.labels(rejection.error_type).inc()
        scored = prepared.scored
        if scored is None:  # every record of the batch was rejected
            return
        outcome = scored.outcome
        for code, n in zip(*np.unique(outcome.decisions, return_counts=True), strict=True):
            name = outputs.DECISION_NAMES[code]
            stats.decisions[name] += int(n)
            metrics.decisions.labels(name).inc(int(n))
        for code, n in zip(
            *np.unique(outcome.levels[outcome.alerts], return_counts=True), strict=True
        ):
            name = outputs.LEVEL_NAMES[code]
            stats.alerts[name] += int(n)
            metrics.alerts.labels(name).inc(int(n))
        # End-to-end latency of a sample of the batch (observing every record costs more than
        # the rest of the accounting); the benchmark measures every record from the outputs.
        now = self.clock.now_ms()
        step = max(len(prepared.good) // LATENCY_SAMPLES, 1)
        for position in prepared.good[::step]:
            produced = prepared.records[position].timestamp()[1]
            metrics.latency.observe(max(now - produced, 0) / 1000)


def _featurize(
    profiles: np.ndarray, tx: TxBatch, stats: MerchantStats, applies: np.ndarray
) -> np.ndarray:
    """Features for every row; rows whose state was already applied leave the state alone."""
    if applies.all():
        return featurize(profiles, tx, stats)
    replayed = featurize(profiles.copy(), tx.take(~applies), stats)
    fresh = featurize(profiles, tx.take(applies), stats)
    features = np.empty((len(tx), max(replayed.shape[1], fresh.shape[1])))
    features[~applies] = replayed
    features[applies] = fresh
    return features


class DetectorWorker:
    """A detector in the consumer group: the loop plus the handler, ready to poll."""

    def __init__(
        self,
        settings: Settings,
        backends: Backends,
        serde: Serde,
        *,
        slot: int = 0,
        clock: Clock = SYSTEM_CLOCK,
        models: ModelSource | None = None,
        metrics: DetectorMetrics | None = None,
        low_latency: bool | None = None,
        watchdog: Watchdog | None = None,
        challenger: ChallengerModels | None = None,
    ) -> None:
        detector = settings.detector
        topics = Topics.from_settings(settings)
        self.settings = settings
        self.models = models or ModelSource()
        self.challenger = challenger
        self.metrics = metrics or DetectorMetrics()
        self.state = DetectorState(backends.state, detector, clock, topic=topics.transactions)
        self.handler = DetectorHandler(
            settings, self.state, serde, self.models, self.metrics, clock, challenger
        )
        self.loop = StreamLoop(
            backends.broker,
            backends.state,
            self.handler,
            group_id=detector.group_id,
            topic=topics.transactions,
            guarantee=detector.guarantee,
            transactional_id=f"{topics.prefix}{detector.group_id}-{slot}",
            max_batch=detector.max_batch,
            max_batch_burst=detector.max_batch_burst,
            poll_timeout_s=detector.poll_timeout_ms / 1000,
            clock=clock,
            low_latency=low_latency,
            overlap_writes=detector.overlap_state_writes,
            watchdog=watchdog,
        )

    def start(self) -> None:
        if self.settings.detector.feature_log:
            require_topic(self.loop.broker, self.handler.topics.decision_features)
        self.models.start()
        if self.challenger is not None:
            self.challenger.start()
        self.handler.letter_budget = letter_budget(self.loop.broker, self.handler.topics)
        self.loop.start()

    def poll(self, limit: int | None = None) -> int:
        self.models.refresh()
        if self.challenger is not None:  # after the champion's: its model-events wake us too
            self.challenger.refresh()
        return self.loop.poll(limit)

    def close(self) -> None:
        self.loop.close()

    def summary(self) -> dict[str, Any]:
        loop, handler = self.loop.stats, self.handler.stats
        return {
            "records": loop.records,
            "batches": loop.batches,
            "max_batch": loop.max_batch,
            "decisions": dict(handler.decisions),
            "alerts": dict(handler.alerts),
            "dead_letters": dict(handler.dead_letters),
            "aborted_transactions": loop.aborted,
            "repaired_records": loop.repaired,
            "last_commit_ms": loop.last_commit_ms,
            "model_version": self.models.current.version if self.models.current else None,
            "model": self.models.status(),
            # the experiment's challenger (either mode: see its "mode"), as status reads it
            "shadow": self.challenger.status() if self.challenger is not None else None,
        }
