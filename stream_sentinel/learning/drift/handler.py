"""The drift service's handler on the shared exactly-once loop: feature-log rows in, hourly
windows in DB4, a check per closed hour, ``DriftEvent`` records out.

Per batch (rows that ``applies`` marks as new):

1. read the event-time clock and every version's progress (:mod:`.progress`) from DB4. The
   clock is the least of the partitions' latest event times (every partition of the topic,
   so a partition read later, after a restart or in a backlog, never finds its hours closed),
   leaving out idle partitions: those ``idle_partition_s`` of event time behind the latest;
2. per model version in the batch: keep the rows of its reference hours (per partition, until
   the reference is built), then add the rows of later hours to that hour's counts, kept per
   input partition in the hour's hash (each partition writes only its own field, in its own
   guarded batch, so a re-read batch never counts twice);
3. once the clock is ``lateness_s`` past an hour's end, the hour is closed: its partitions'
   counts are merged, checked against the version's reference, the alarms published as
   ``DriftEvent``s (in the batch's Kafka transaction) and stored in DB4 with the check's
   summary; the retrain policy may add one retrain request. Rows for a closed hour are late:
   counted, not added.

All writes go into the loop's per-partition guarded batches, so state and outputs move
together; a repair (``emit=False``) re-applies the state and publishes nothing.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from stream_sentinel.clock import SYSTEM_CLOCK, Clock
from stream_sentinel.config.learning import DriftSettings
from stream_sentinel.learning.drift import keys
from stream_sentinel.learning.drift.alarms import store_alarms
from stream_sentinel.learning.drift.checks import WindowCheck, check
from stream_sentinel.learning.drift.events import DriftEvent
from stream_sentinel.learning.drift.hours import (
    KEPT,
    add_counts,
    clock_of,
    count_rows,
    due_end,
    idle_partitions,
    partition_marks,
    per_hour_quota,
    stored_windows,
)
from stream_sentinel.learning.drift.policy import RetrainPolicy
from stream_sentinel.learning.drift.progress import VersionProgress
from stream_sentinel.learning.drift.rows import WIDTH, Rows, from_npy, no_rows, rows_of, to_npy
from stream_sentinel.learning.drift.writes import StepWrites
from stream_sentinel.learning.retrain_requests import KEEP, REQUESTS, RetrainRequest
from stream_sentinel.logic.drift.calibration import calibrated_reference
from stream_sentinel.logic.drift.reference import Reference
from stream_sentinel.logic.drift.window import HOUR_MS, WindowCounts
from stream_sentinel.logic.feature_set import LIVE_HASH
from stream_sentinel.logic.features import FEATURES
from stream_sentinel.state.base import Batch, Namespace, StateStore
from stream_sentinel.stream.handler import Output, Step
from stream_sentinel.transport.base import Record
from stream_sentinel.transport.topics import DECISION_FEATURES, DRIFT_EVENTS, LAYOUT, Topics
from stream_sentinel.wire.serde import Serde

log = logging.getLogger(__name__)
#: The version name of rows scored by rules alone (no model).
RULES_ONLY = "rules"


@dataclass
class DriftOutcome:
    """What one batch did, for the metrics and the caller (``Step.payload``). ``emitted``: its
    events were published (not a repair); ``applied``: its lead's write landed, so its checks
    and requests are in DB4 (set once the write is settled)."""

    rows: int = 0
    rows_by_partition: dict[int, int] = field(default_factory=dict)
    emitted: bool = False
    lead: int | None = None
    applied: dict[int, bool] = field(default_factory=dict)
    late: int = 0
    other_feature_set: int = 0
    checks: list[WindowCheck] = field(default_factory=list)
    events: list[DriftEvent] = field(default_factory=list)
    retrain_requests: list[RetrainRequest] = field(default_factory=list)


class DriftHandler:
    """Decoded DecisionFeatures rows -> window counts, checks and DriftEvents (see above)."""

    def __init__(
        self,
        serde: Serde,
        store: StateStore,
        settings: DriftSettings,
        bands: Callable[[str], Mapping[str, float]],
        topics: Topics = Topics(),
        clock: Clock = SYSTEM_CLOCK,
        on_committed: Callable[[DriftOutcome], None] | None = None,
        partitions: int = LAYOUT[DECISION_FEATURES][0],
    ) -> None:
        self.partitions = partitions  # of decision-features: the clock waits for all of them
        self._decoder = serde.decoder(DECISION_FEATURES)
        self._encoder = serde.encoder(DRIFT_EVENTS)
        self.store, self.settings, self.bands, self.clock = store, settings, bands, clock
        self.topic = topics.drift_events
        self.policy = RetrainPolicy(
            settings.retrain_monitors, settings.retrain_features, settings.retrain_cooldown_hours
        )
        excluded = set(settings.excluded_features)
        self.names = tuple(name for name in FEATURES if name not in excluded)
        self._columns = np.array([FEATURES.index(name) for name in self.names], dtype=np.int64)
        self._references: dict[str, Reference] = {}  # immutable once built: safe to cache
        self.on_committed = on_committed
        #: Which of the given partitions have records the group has not read (set by the loop's
        #: factory); a partition far behind in event time is idle only when it has none.
        self.unread: Callable[[list[int]], set[int]] | None = None
        self.undecodable = 0

    # -- the loop's protocol ------------------------------------------------------------------
    def handle(self, records: Sequence[Record], applies: np.ndarray, emit: bool) -> Step:
        step, outcome = Step(), DriftOutcome(emitted=emit)
        step.payload = outcome
        by_version, stamps = self._rows(records, applies, outcome)
        applying = [r.partition() or 0 for r, a in zip(records, applies, strict=True) if a]
        if not applying:
            return step  # every write of this batch would be dropped as a replay
        # the lead writes the progress with everything that depends on it, so they land (or
        # are replayed) together; a partition whose records do not apply writes nothing
        writes = StepWrites(step, min(applying), applying)
        outcome.lead = min(applying)
        [marks, stored] = self.store.execute(
            Batch().hgetall(keys.NS, keys.CLOCK).hgetall(keys.NS, keys.VERSIONS)
        )
        stored = stored or {}
        progress = {v: VersionProgress.decode(b) for v, b in stored.items()}
        seen = {int(p): int(ms) for p, ms in (marks or {}).items()}
        moved = partition_marks(stamps, seen)
        for partition, mark in moved.items():
            writes.on(partition).hset(keys.NS, keys.CLOCK, {str(partition): str(mark)})
        marks = {**seen, **moved}
        latest = self._clock(marks)
        for version, rows in by_version.items():
            started = self._started(progress.get(version), int(rows.ts.min()), latest)
            progress[version] = started.seen(int(rows.ts.max()))
        for version in sorted(progress):
            rows = by_version.get(version, no_rows())
            if len(rows.ts) == 0 and progress[version].dormant:
                continue  # every hour it had rows in is checked: nothing to do until it has more
            progress[version] = self._version(
                version, progress[version], rows, latest, writes, outcome
            )
        changed = {v: p.encode() for v, p in progress.items() if stored.get(v) != p.encode()}
        if changed:
            writes.lead().hset(keys.NS, keys.VERSIONS, changed)
        if emit:
            step.outputs = [self._output(e) for e in outcome.events]
        return step

    def _clock(self, marks: Mapping[int, int]) -> int:
        idle_ms = self.settings.idle_partition_s * 1000
        behind = idle_partitions(marks, self.partitions, idle_ms)
        unread = self.unread(behind) if behind and self.unread is not None else set()
        return clock_of(marks, self.partitions, idle_ms, unread)

    def committed(self, step: Step, applied: dict[int, bool]) -> None:
        if self.on_committed is not None and isinstance(step.payload, DriftOutcome):
            step.payload.applied = dict(applied)
            self.on_committed(step.payload)

    def forget(self, partitions: list[int]) -> None:
        return None  # nothing per partition is cached: every batch reads DB4

    # -- rows ---------------------------------------------------------------------------------
    def _rows(
        self, records: Sequence[Record], applies: np.ndarray, outcome: DriftOutcome
    ) -> tuple[dict[str, Rows], list[tuple[int, int]]]:
        """The applying rows per version, and every applying decoded record's (partition,
        event time): the clock moves with every row, of any feature set."""
        decoded, failures = self._decoder.decode_many([r.value() for r in records])
        self.undecodable += len(failures)
        grouped: dict[str, list[tuple[int, int, Sequence[float], float]]] = defaultdict(list)
        stamps: list[tuple[int, int]] = []
        for record, row, apply in zip(records, decoded, applies, strict=True):
            if row is None or not apply:
                continue
            stamps.append((record.partition() or 0, int(row["event_time"])))
            if row["feature_set_hash"] != LIVE_HASH or len(row["features"]) != WIDTH:
                outcome.other_feature_set += 1
                continue
            version = row["model_version"] or RULES_ONLY
            grouped[version].append(
                (record.partition() or 0, int(row["event_time"]), row["features"], row["score"])
            )
        outcome.rows = sum(len(v) for v in grouped.values())
        for found in grouped.values():
            for partition, *_ in found:
                outcome.rows_by_partition[partition] = (
                    outcome.rows_by_partition.get(partition, 0) + 1
                )
        return {version: rows_of(found) for version, found in grouped.items()}, stamps

    # -- one version --------------------------------------------------------------------------
    def _version(
        self,
        version: str,
        progress: VersionProgress,
        rows: Rows,
        latest: int,
        writes: StepWrites,
        outcome: DriftOutcome,
    ) -> VersionProgress:
        kept = no_rows()
        if not progress.reference_built:
            building = latest >= progress.reference_end_ms
            progress = self._gather(version, progress, rows, writes, keep=not building)
            if not building:
                return progress
            progress, kept = self._build(version, progress, writes)
        counted = rows.take(rows.ts >= progress.reference_end_ms)
        late = counted.ts < progress.next_ms
        outcome.late += int(late.sum())
        counted = counted.take(~late)
        reference = self._reference(version)
        hours = counted.ts - counted.ts % HOUR_MS
        kept_hours = kept.ts - kept.ts % HOUR_MS
        due = due_end(latest, self.settings.lateness_s * 1000)
        every = np.concatenate([hours, kept_hours])
        closing = self._closing(version, progress.next_ms, due, every)
        touched = sorted(set(every.tolist()) | set(closing))
        stored = stored_windows(self.store, version, touched) if reference is not None else {}
        if reference is not None:
            for hour in sorted(set(hours.tolist())):
                block = counted.take(hours == hour)
                count_rows(version, reference, hour, block, stored, writes)
            for hour in sorted(set(kept_hours.tolist())):
                block = kept.take(kept_hours == hour)
                add_counts(version, reference, hour, KEPT, block, stored, writes.lead())
        for hour in closing:
            progress = self._close(
                version, progress, reference, hour, stored, writes, outcome, latest
            )
        if due > progress.next_ms:
            progress = progress.with_(next_ms=due)
        return progress

    def _started(self, known: VersionProgress | None, first: int, latest: int) -> VersionProgress:
        """A version's progress from its first row; moved earlier when an earlier row comes
        while the clock is still before the moved reference start (rows out of order across
        partitions at a version's start), so its reference hours follow its real first hour."""
        s = self.settings
        fresh = VersionProgress.starting(first, s.warmup_hours, s.reference_hours)
        if known is None:
            return fresh
        if known.reference_built or fresh.since_ms >= known.since_ms:
            return known
        if latest >= fresh.reference_start_ms:
            return known
        return fresh.with_(reference_rows=known.reference_rows, later_rows=known.later_rows)

    def _gather(
        self, version: str, progress: VersionProgress, rows: Rows, writes: StepWrites, keep: bool
    ) -> VersionProgress:
        """Keep the rows from the reference's start on, per partition, until it is built (the
        reference hours' rows up to the cap, an equal share of it per hour; later rows, up to
        the same cap, wait to be counted in their hours: past it they are dropped).

        In the batch that builds the reference nothing is kept in DB4 (``keep`` False): its
        reference rows go straight into the build and its later rows into their hours, so no
        partition's append lands after the lead deleted the kept rows."""
        start, end = progress.reference_start_ms, progress.reference_end_ms
        kept, waiting = dict(progress.reference_rows), dict(progress.later_rows)
        taken, cap = dict(progress.hour_rows), self.settings.reference_max_rows
        quota = max(cap // self.settings.reference_hours, 1)
        for partition in np.unique(rows.partition[rows.ts >= start]).tolist():
            block = rows.take((rows.partition == partition) & (rows.ts >= start))
            inside = np.flatnonzero(block.ts < end)
            inside = inside[per_hour_quota(block.ts[inside], partition, taken, quota)]
            have, held = kept.get(str(partition), 0), waiting.get(str(partition), 0)
            later = np.flatnonzero(block.ts >= end) if keep else np.empty(0, np.int64)
            later = later[: max(cap - held, 0)]
            chosen = np.concatenate([inside, later])
            kept[str(partition)] = have + len(inside)
            waiting[str(partition)] = held + len(later)
            if len(chosen) == 0:
                continue
            matrix = block.take(np.sort(chosen)).matrix()
            writes.keep_block(version, matrix)
            if keep:
                key = keys.reference_rows(version, partition)
                writes.on(partition).lpush(keys.NS, key, to_npy(matrix)).pexpire(
                    keys.NS, key, keys.WORK_TTL_MS
                )
        return progress.with_(reference_rows=kept, later_rows=waiting, hour_rows=taken)

    def _build(
        self, version: str, progress: VersionProgress, writes: StepWrites
    ) -> tuple[VersionProgress, Rows]:
        """The version's reference from every partition's kept rows (this batch's included),
        and the rows kept in DB4 from after the reference hours, still to be counted (by the
        lead, in the same write that deletes them)."""
        partitions = sorted({int(p) for p in progress.reference_rows} | set(range(self.partitions)))
        read = Batch()
        for partition in partitions:
            read.lrange(keys.NS, keys.reference_rows(version, partition), 0, -1)
        found = self.store.execute(read)
        stored = [from_npy(blob) for blobs in found for blob in blobs]
        blocks = stored + writes.pending_blocks(version)
        kept = Rows.of_matrix(np.concatenate(blocks) if blocks else np.empty((0, WIDTH + 3)))
        for partition in partitions:
            writes.lead().delete(keys.NS, keys.reference_rows(version, partition))
        inside = kept.take(kept.ts < progress.reference_end_ms)
        progress = progress.with_(reference_built=True, reference_size=len(inside.ts))
        later = Rows.of_matrix(np.concatenate(stored) if stored else np.empty((0, WIDTH + 3)))
        later = later.take(later.ts >= progress.reference_end_ms)
        if len(inside.ts) < self.settings.min_reference_rows:
            log.warning(
                "%d rows of %s in its reference hours, fewer than the %d needed: no reference, "
                "its windows are not checked",
                len(inside.ts),
                version,
                self.settings.min_reference_rows,
            )
            return progress, no_rows()
        features, bands = inside.features[:, self._columns], self.bands(version)
        reference = calibrated_reference(
            version, features, inside.scores, inside.ts, bands, self.names
        )
        self._references[version] = reference
        writes.lead().set(keys.NS, keys.reference(version), _json(reference.to_json()))
        return progress, later

    def _reference(self, version: str) -> Reference | None:
        if version not in self._references:
            [blob] = self.store.execute(Batch().get(keys.NS, keys.reference(version)))
            if blob is None:
                return None
            self._references[version] = Reference.from_json(json.loads(blob))
        return self._references[version]

    def _closing(self, version: str, next_ms: int, due_end: int, hours: np.ndarray) -> list[int]:
        """The hours with counts, before ``due_end`` and not yet checked."""
        if due_end <= next_ms:
            return []
        [found] = self.store.execute(
            Batch().zrangebyscore(keys.NS, keys.open_hours(version), next_ms, due_end - 1)
        )
        batch = {int(h) for h in hours.tolist() if next_ms <= h < due_end}
        return sorted({int(member) for member, _ in found} | batch)

    def _close(
        self,
        version: str,
        progress: VersionProgress,
        reference: Reference | None,
        hour: int,
        stored: dict[int, dict[str, WindowCounts]],
        writes: StepWrites,
        outcome: DriftOutcome,
        latest: int,
    ) -> VersionProgress:
        writes.lead().zrem(keys.NS, keys.open_hours(version), str(hour))
        partials = list(stored.get(hour, {}).values())
        if reference is None or not partials:
            return progress
        window = partials[0]
        for partial in partials[1:]:
            window = window.merged(partial)
        events, summary = check(reference, window, self.settings.alpha, latest)
        outcome.checks.append(summary)
        outcome.events.extend(events)
        text = summary.encode()
        writes.lead().zadd(keys.NS, keys.CHECKS, {text: float(hour)}).zremrangebyscore(
            keys.NS, keys.CHECKS, 0, hour - keys.KEEP_MS
        )
        store_alarms(self.store, writes.lead(), events, hour)
        # rows scored by rules alone have no model to retrain
        reason = (
            None if version == RULES_ONLY else self.policy.reason(events, progress.last_retrain_ms)
        )
        if reason is None:
            return progress
        request = RetrainRequest(self.clock.now_ms(), reason, "drift", f"drift-{version}-{hour}")
        outcome.retrain_requests.append(request)
        writes.lead().lpush(Namespace.MODELS, REQUESTS, request.encode()).ltrim(
            Namespace.MODELS, REQUESTS, 0, KEEP - 1
        )
        return progress.with_(last_retrain_ms=hour)

    def _output(self, event: DriftEvent) -> Output:
        return (self.topic, event.model_version.encode(), self._encoder(event.to_record()))


def _json(data: Mapping[str, Any]) -> bytes:
    return json.dumps(data, sort_keys=True, allow_nan=False).encode()
