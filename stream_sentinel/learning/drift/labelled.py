"""The drift service's second member of ``drift-group``: ``fraud-feedback`` in, the labelled
performance monitors fed once each transaction's label deadline has passed, their alarms out.

Per batch (labels that ``applies`` marks as new), all in the loop's guarded per-partition
batches, so a re-read batch changes nothing:

1. each partition moves its mark on the *label clock* (the latest label time read from it);
2. each label within ``performance_deadline_hours`` of its transaction is merged into its
   transaction's kept labels (:mod:`.kept`), in its event-time bucket (an hour); a label given
   later, or of a bucket already settled, is late: counted, not kept;
3. a bucket is *settled* once the label clock (the least mark over the label partitions that
   are not idle) is the deadline past its end and the decision clock (``drift:clock``, the
   windows' clock) is ``lateness_s`` past it: every label it will count, and every decision,
   has been read. The lead partition (the lowest whose labels apply) settles every due
   bucket in order: each labelled transaction joined to its kept decision, per model version,
   ordered by event time then transaction id, fed to the version's monitors
   (:mod:`~stream_sentinel.logic.drift.outcomes`); their detections become ``DriftEvent``s
   (published in the batch's Kafka transaction, stored with the other alarms), the retrain
   policy may ask for one retrain, and the bucket's kept rows and labels are deleted. The
   next bucket to settle is written in the same batch, so a settlement is never counted twice.

A monitor's state is its parameters, outcomes seen and detections; the outcome streams are
kept (one byte an outcome, a block per settled bucket) so that a restarted process rebuilds the
monitors by replaying them. The process caches the monitors and uses the cache only while DB4
holds the same state (a lost write is rebuilt from DB4, then settled again).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from stream_sentinel.clock import SYSTEM_CLOCK, Clock
from stream_sentinel.config.learning import DriftSettings
from stream_sentinel.learning.drift import keys
from stream_sentinel.learning.drift.alarms import store_alarms
from stream_sentinel.learning.drift.events import DriftEvent
from stream_sentinel.learning.drift.hours import clock_of, idle_partitions, partition_marks
from stream_sentinel.learning.drift.kept import (
    PerfProgress,
    StoredMonitors,
    bucket_ttl_ms,
    decisions_of,
    effective_label,
    merge_label,
    monitors_of,
    read_buckets,
    stored_labels,
    tx_hash,
)
from stream_sentinel.learning.drift.policy import RetrainPolicy
from stream_sentinel.learning.labels import SourcedLabel
from stream_sentinel.learning.retrain_requests import KEEP, REQUESTS, RetrainRequest
from stream_sentinel.logic.drift.outcomes import STREAMS, Labelled, VersionMonitors
from stream_sentinel.logic.drift.window import HOUR_MS
from stream_sentinel.state.base import Batch, Namespace, StateStore
from stream_sentinel.stream.handler import Output, Step
from stream_sentinel.transport.base import Record
from stream_sentinel.transport.topics import (
    DECISION_FEATURES,
    DRIFT_EVENTS,
    FRAUD_FEEDBACK,
    LAYOUT,
    Topics,
)
from stream_sentinel.wire.serde import Serde

#: (partition, transaction id, label) of one applying label record.
Taken = tuple[int, str, SourcedLabel]


@dataclass(frozen=True, slots=True)
class Kept:
    """A batch's labels (merged) and kept decision blocks per bucket, not yet in DB4."""

    labels: Mapping[int, Mapping[str, str]]
    blocks: Mapping[int, list[bytes]]


@dataclass
class LabelledOutcome:
    """What one batch did (``Step.payload``); ``applied`` is set once its write is settled."""

    labels: int = 0
    emitted: bool = False
    late: int = 0
    unjoined: int = 0  # labelled transactions settled without a kept decision
    settled: list[int] = field(default_factory=list)  # buckets settled (event-time hours)
    outcomes: int = 0  # labelled decisions fed to the monitors
    #: bucket -> [labelled, wrong, alerted, alerted fraud] of the decisions fed
    fed: dict[int, list[int]] = field(default_factory=dict)
    events: list[DriftEvent] = field(default_factory=list)
    retrain_requests: list[RetrainRequest] = field(default_factory=list)
    applied: dict[int, bool] = field(default_factory=dict)
    lead: int | None = None  # the partition whose write holds the settlement
    labels_by_partition: dict[int, int] = field(default_factory=dict)  # (for the metrics)
    late_by_partition: dict[int, int] = field(default_factory=dict)


class LabelledHandler:
    """Decoded Feedback records -> kept labels, settled buckets, performance DriftEvents."""

    def __init__(
        self,
        serde: Serde,
        store: StateStore,
        settings: DriftSettings,
        topics: Topics = Topics(),
        clock: Clock = SYSTEM_CLOCK,
        on_committed: Callable[[LabelledOutcome], None] | None = None,
        partitions: int = LAYOUT[DECISION_FEATURES][0],
        label_partitions: int = LAYOUT[FRAUD_FEEDBACK][0],
    ) -> None:
        self.partitions = partitions  # of decision-features, for the decision clock
        self.label_partitions = label_partitions  # the label clock waits for all of them
        #: Which of the given fraud-feedback partitions have records the group has not read
        #: (set by the loop's factory): one far behind holds the label clock only then.
        self.unread: Callable[[list[int]], set[int]] | None = None
        #: The same for decision-features (set by the service): the decision clock holds for a
        #: lagging decision partition that still has records to read, as the windows' does.
        self.decision_unread: Callable[[list[int]], set[int]] | None = None
        #: Whether this member settles hours (one per group: the one numbered 0). Settling reads
        #: the shared progress and writes it unguarded, so two settling members could feed an
        #: hour twice; the others keep decisions and labels only.
        self.settles = True
        self._decoder = serde.decoder(FRAUD_FEEDBACK)
        self._encoder = serde.encoder(DRIFT_EVENTS)
        self.store, self.settings, self.clock = store, settings, clock
        self.topic = topics.drift_events
        self.deadline_ms = settings.performance_deadline_hours * HOUR_MS
        self.policy = RetrainPolicy(
            settings.retrain_monitors,
            settings.retrain_features,
            settings.retrain_cooldown_hours,
            settings.performance_retrain,
        )
        self.on_committed = on_committed
        self._monitors: dict[str, VersionMonitors] = {}
        self.undecodable = 0

    # -- the loop's protocol ------------------------------------------------------------------
    def handle(self, records: Sequence[Record], applies: np.ndarray, emit: bool) -> Step:
        step, outcome = Step(), LabelledOutcome(emitted=emit)
        step.payload = outcome
        taken = self._taken(records, applies)
        outcome.labels = len(taken)
        outcome.labels_by_partition = dict(Counter(p for p, _, _ in taken))
        if not taken:
            return step
        [marks, blob] = self.store.execute(
            Batch().hgetall(keys.NS, keys.PERF_LABEL_CLOCK).get(keys.NS, keys.PERF_PROGRESS)
        )
        seen = {int(p): int(ms) for p, ms in (marks or {}).items()}
        moved = partition_marks(((p, label.label_time) for p, _, label in taken), seen)
        for partition, mark in moved.items():
            on = step.state.setdefault(partition, Batch())
            on.hset(keys.NS, keys.PERF_LABEL_CLOCK, {str(partition): str(mark)})
        pending = self._keep(taken, PerfProgress.decode(blob).settled, step, outcome)
        if emit:  # (a repair only restores writes: what it would settle waits for a batch that
            # publishes, so no alarm is stored unpublished)
            outcome.lead = min(p for p, _, _ in taken)
            self.settle(step.state.setdefault(outcome.lead, Batch()), outcome, pending, moved)
            step.outputs = [self.output(e) for e in outcome.events]
        return step

    def settle(
        self,
        lead: Batch,
        outcome: LabelledOutcome,
        pending: Mapping[int, Mapping[str, str]] | None = None,
        moved: Mapping[int, int] | None = None,
        decided: Mapping[int, int] | None = None,
        blocks: Mapping[int, list[bytes]] | None = None,
    ) -> None:
        """Settle every bucket that is due into ``lead`` (a batch's lead partition's write:
        of this loop, or of the decisions' loop, so buckets settle while no label comes);
        ``pending`` and ``blocks``: this batch's labels and kept decisions per bucket, not yet
        in DB4; ``moved`` and ``decided``: the label and decision clock marks it moves."""
        [marks, blob, decision_marks] = self.store.execute(
            Batch()
            .hgetall(keys.NS, keys.PERF_LABEL_CLOCK)
            .get(keys.NS, keys.PERF_PROGRESS)
            .hgetall(keys.NS, keys.CLOCK)
        )
        label_marks = {**{int(p): int(ms) for p, ms in (marks or {}).items()}, **(moved or {})}
        if not label_marks or not self.settles:
            return
        progress = PerfProgress.decode(blob)
        marked = {int(p): int(ms) for p, ms in (decision_marks or {}).items()}
        for partition, mark in (decided or {}).items():
            marked[partition] = max(marked.get(partition, 0), mark)
        idle_ms = self.settings.idle_partition_s * 1000
        decision_clock = self._decision_clock(marked, idle_ms) if marked else 0
        due = self._due(label_marks, decision_clock)
        if progress.settled is None or due >= progress.settled:
            found = Kept(pending or {}, blocks or {})
            self._settle(progress, due, found, decision_clock, lead, outcome)

    def _decision_clock(self, marked: Mapping[int, int], idle_ms: int) -> int:
        behind = idle_partitions(marked, self.partitions, idle_ms)
        probe = self.decision_unread
        unread = probe(behind) if behind and probe is not None else set()
        return clock_of(marked, self.partitions, idle_ms, unread)

    def committed(self, step: Step, applied: dict[int, bool]) -> None:
        if self.on_committed is not None and isinstance(step.payload, LabelledOutcome):
            step.payload.applied = dict(applied)
            self.on_committed(step.payload)

    def forget(self, partitions: list[int]) -> None:
        return None  # the cached monitors are checked against DB4 before every use

    # -- labels -------------------------------------------------------------------------------
    def _taken(self, records: Sequence[Record], applies: np.ndarray) -> list[Taken]:
        decoded, failures = self._decoder.decode_many([r.value() for r in records])
        self.undecodable += len(failures)
        return [
            (record.partition() or 0, str(row["transaction_id"]), SourcedLabel.of_record(row))
            for record, row, apply in zip(records, decoded, applies, strict=True)
            if row is not None and apply
        ]

    def _due(self, label_marks: Mapping[int, int], decision_clock: int) -> int:
        """The last bucket whose labels and decisions have all been read. The label clock is
        the windows' clock over the label partitions: the least mark, leaving out a partition
        ``idle_partition_s`` behind the latest unless it has records not yet read."""
        idle_ms = self.settings.idle_partition_s * 1000
        behind = idle_partitions(label_marks, self.label_partitions, idle_ms)
        unread = self.unread(behind) if behind and self.unread is not None else set()
        label_clock = clock_of(label_marks, self.label_partitions, idle_ms, unread)
        lateness_ms = self.settings.lateness_s * 1000
        read_to = min(label_clock - self.deadline_ms, decision_clock - lateness_ms)
        return read_to // HOUR_MS - 1

    def _keep(
        self, taken: list[Taken], settled: int | None, step: Step, outcome: LabelledOutcome
    ) -> dict[int, dict[str, str]]:
        """Merge the batch's labels into their transactions' kept labels, each in its
        partition's write; the merged labels per bucket (a settlement in this batch counts
        them before they land)."""
        kept: list[tuple[int, int, str, SourcedLabel]] = []
        for partition, transaction_id, label in taken:
            bucket = label.event_time // HOUR_MS
            too_late = label.label_time > label.event_time + self.deadline_ms
            if too_late or (settled is not None and bucket < settled):
                outcome.late += 1
                late = outcome.late_by_partition
                late[partition] = late.get(partition, 0) + 1
                continue
            kept.append((partition, bucket, transaction_id, label))
        stored = stored_labels(self.store, list(dict.fromkeys((b, t) for _, b, t, _ in kept)))
        merged: dict[tuple[int, str], str] = {}
        where: dict[tuple[int, str], int] = {}
        for partition, bucket, transaction_id, label in kept:
            at = (bucket, transaction_id)
            merged[at] = merge_label(merged.get(at, stored[at]), label)
            where[at] = partition
        pending: dict[int, dict[str, str]] = defaultdict(dict)
        ttl = bucket_ttl_ms(self.deadline_ms)
        for (bucket, transaction_id), labels in merged.items():
            batch = step.state.setdefault(where[(bucket, transaction_id)], Batch())
            batch.hset(keys.NS, keys.perf_labels(bucket), {transaction_id: labels.encode()})
            batch.pexpire(keys.NS, keys.perf_labels(bucket), ttl)
            batch.zadd(keys.NS, keys.PERF_BUCKETS, {str(bucket): float(bucket)})
            pending[bucket][transaction_id] = labels
        return pending

    # -- settlement ---------------------------------------------------------------------------
    def _settle(
        self,
        progress: PerfProgress,
        due: int,
        pending: Kept,
        clock_ms: int,
        lead: Batch,
        outcome: LabelledOutcome,
    ) -> None:
        """Settle every bucket up to ``due`` (see the module docstring), in the lead's write."""
        [found] = self.store.execute(
            Batch().zrangebyscore(keys.NS, keys.PERF_BUCKETS, float("-inf"), due)
        )
        batch = set(pending.labels) | set(pending.blocks)
        every = sorted({int(score) for _, score in found} | {b for b in batch if b <= due})
        fresh = [b for b in every if progress.settled is None or b >= progress.settled]
        joined = self._joined(fresh, pending, outcome)
        for version in sorted(joined):
            self._feed(version, joined[version], clock_ms, lead, outcome)
        for bucket in every:  # (a bucket below the settled mark was written after it settled)
            lead.delete(keys.NS, keys.perf_decisions(bucket)).delete(
                keys.NS, keys.perf_labels(bucket)
            )
            lead.zrem(keys.NS, keys.PERF_BUCKETS, str(bucket))
        outcome.settled = fresh
        lead.set(keys.NS, keys.PERF_PROGRESS, PerfProgress(due + 1).encode())

    def _joined(
        self,
        buckets: list[int],
        pending: Kept,
        outcome: LabelledOutcome,
    ) -> dict[str, dict[int, list[Labelled]]]:
        """Per version and bucket, each labelled transaction joined to its kept decision."""
        blocks, labels = read_buckets(self.store, buckets)
        joined: dict[str, dict[int, list[Labelled]]] = defaultdict(lambda: defaultdict(list))
        for bucket, found, stored in zip(buckets, blocks, labels, strict=True):
            both: dict[str, str | bytes] = {**stored, **pending.labels.get(bucket, {})}
            decisions = decisions_of([*found, *pending.blocks.get(bucket, [])])
            for transaction_id, held in sorted(both.items()):
                event_time, label = effective_label(held)
                decision = decisions.get(tx_hash(transaction_id))
                if decision is None:
                    outcome.unjoined += 1
                    continue
                version, flagged = decision
                joined[version][bucket].append(
                    Labelled(event_time, transaction_id, flagged, label == "FRAUD")
                )
                outcome.outcomes += 1
                tally = outcome.fed.setdefault(bucket, [0, 0, 0, 0])
                fraud = label == "FRAUD"
                tally[0], tally[1] = tally[0] + 1, tally[1] + (flagged != fraud)
                tally[2], tally[3] = tally[2] + flagged, tally[3] + (flagged and fraud)
        return joined

    def _feed(
        self,
        version: str,
        buckets: Mapping[int, list[Labelled]],
        clock_ms: int,
        lead: Batch,
        outcome: LabelledOutcome,
    ) -> None:
        """Feed the version's settled buckets in order: outcomes kept, alarms stored, the
        retrain policy asked, the monitors' state written."""
        monitors, last_retrain = monitors_of(self.store, self._monitors, version)
        for bucket in sorted(buckets):
            before = {s: len(monitors.outcomes[s]) for s in STREAMS}
            detections = monitors.update(buckets[bucket])
            for stream in STREAMS:
                added = bytes(monitors.outcomes[stream][before[stream] :])
                if added:
                    lead.lpush(keys.NS, keys.perf_outcomes(version, stream), added)
            alarms: dict[str, DriftEvent] = {}  # a monitor's first detection in the hour
            for detection in detections:
                event = DriftEvent.of_detection(detection, version, clock_ms)
                alarms.setdefault(event.event_id, event)
            events = list(alarms.values())
            hour = bucket * HOUR_MS
            store_alarms(self.store, lead, events, hour)
            outcome.events.extend(events)
            last_retrain = self._retrain(version, events, last_retrain, hour, lead, outcome)
        self._monitors[version] = monitors
        stored = StoredMonitors.of(monitors, last_retrain)
        lead.hset(keys.NS, keys.PERF_MONITORS, {version: stored.encode()})

    def _retrain(
        self,
        version: str,
        events: list[DriftEvent],
        last_ms: int | None,
        hour: int,
        lead: Batch,
        outcome: LabelledOutcome,
    ) -> int | None:
        reason = self.policy.reason(events, last_ms)
        if reason is None:
            return last_ms
        request = RetrainRequest(self.clock.now_ms(), reason, "drift", f"drift-{version}-{hour}")
        outcome.retrain_requests.append(request)
        lead.lpush(Namespace.MODELS, REQUESTS, request.encode()).ltrim(
            Namespace.MODELS, REQUESTS, 0, KEEP - 1
        )
        return hour

    def output(self, event: DriftEvent) -> Output:
        return (self.topic, event.model_version.encode(), self._encoder(event.to_record()))
