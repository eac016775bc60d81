"""The drift service's decision-features handler with the performance monitors' part: the
:class:`~.handler.DriftHandler` does the windows; this keeps, per decision, what its label will
need (:mod:`.kept`: 8 bytes a row), in the same guarded per-partition batches.

Each applying row of a model version is kept in its event-time bucket, with whether its score
reached the version's alerting threshold (the registry's band for the detector's alert level).
Rows scored by rules alone, and of a version whose bands are unknown, are not kept: there is
no model to judge. Rows of a bucket already settled are not kept either (their labels were
counted without them).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from stream_sentinel.learning.drift import keys
from stream_sentinel.learning.drift.handler import RULES_ONLY, DriftHandler
from stream_sentinel.learning.drift.kept import PerfProgress, bucket_ttl_ms, decision_block
from stream_sentinel.learning.drift.labelled import LabelledHandler, LabelledOutcome
from stream_sentinel.logic.drift.window import HOUR_MS
from stream_sentinel.state.base import Batch
from stream_sentinel.stream.handler import Step
from stream_sentinel.transport.base import Record
from stream_sentinel.transport.topics import DECISION_FEATURES
from stream_sentinel.wire.failures import DecodeFailure, RecordDecoder
from stream_sentinel.wire.failures import Record as WireRecord
from stream_sentinel.wire.serde import Serde

Decoded = tuple[list[WireRecord | None], list[DecodeFailure]]


class KeepingDecisions:
    """The loop's handler on decision-features: the windows, plus the kept decisions."""

    def __init__(
        self,
        windows: DriftHandler,
        serde: Serde,
        bands: Callable[[str], Mapping[str, float]],
        alert_level: str,
        deadline_ms: int,
        settler: LabelledHandler | None = None,
    ) -> None:
        self.windows, self.bands, self.alert_level = windows, bands, alert_level
        self.settler = settler
        self.deadline_ms = deadline_ms
        # the windows decode the batch first; this handler reads the same decoded rows
        self._decoder = Remembered(serde.decoder(DECISION_FEATURES))
        windows._decoder = self._decoder
        self.kept = 0  # rows kept for labels (applied batches and repairs alike)

    @property
    def unread(self) -> Callable[[list[int]], set[int]] | None:
        return self.windows.unread

    @unread.setter
    def unread(self, found: Callable[[list[int]], set[int]] | None) -> None:
        self.windows.unread = found

    @property
    def undecodable(self) -> int:
        return self.windows.undecodable

    def handle(self, records: Sequence[Record], applies: np.ndarray, emit: bool) -> Step:
        step = self.windows.handle(records, applies, emit)
        if not applies.any():
            return step
        [blob] = self.windows.store.execute(Batch().get(keys.NS, keys.PERF_PROGRESS))
        settled = PerfProgress.decode(blob).settled
        decoded, _ = self._decoder.decode_many([r.value() for r in records])
        bands = _Cached(self.bands)
        grouped: dict[tuple[int, int, str], tuple[list[str], list[bool]]] = defaultdict(
            lambda: ([], [])
        )
        marks: dict[int, int] = {}  # the decision clock's marks this batch moves
        for record, row, apply in zip(records, decoded, applies, strict=True):
            if row is None or not apply:
                continue
            at = record.partition() or 0
            marks[at] = max(marks.get(at, 0), int(row["event_time"]))
            version = row["model_version"] or RULES_ONLY
            threshold = None if version == RULES_ONLY else bands(version).get(self.alert_level)
            bucket = int(row["event_time"]) // HOUR_MS
            if threshold is None or (settled is not None and bucket < settled):
                continue
            ids, flags = grouped[(record.partition() or 0, bucket, version)]
            ids.append(str(row["transaction_id"]))
            flags.append(float(row["score"]) >= threshold)
        blocks: dict[int, list[bytes]] = defaultdict(list)
        for (partition, bucket, version), (ids, flags) in sorted(grouped.items()):
            key = keys.perf_decisions(bucket)
            batch = step.state.setdefault(partition, Batch())
            blocks[bucket].append(decision_block(version, ids, flags))
            batch.lpush(keys.NS, key, blocks[bucket][-1])
            batch.pexpire(keys.NS, key, bucket_ttl_ms(self.deadline_ms))
            batch.zadd(keys.NS, keys.PERF_BUCKETS, {str(bucket): float(bucket)})
            self.kept += len(ids)
        if self.settler is not None and emit:  # (a repair settles nothing: see labelled.py)
            self._settle(step, records, applies, emit, (marks, blocks))
        return step

    def _settle(
        self,
        step: Step,
        records: Sequence[Record],
        applies: np.ndarray,
        emit: bool,
        moved: tuple[dict[int, int], dict[int, list[bytes]]],
    ) -> None:
        """Settle what is due in the lead partition's write (so buckets settle while no label
        comes), with the batch's clock marks and kept decisions (``moved``) not yet in DB4;
        the outcome rides in the payload, beside the windows'."""
        assert self.settler is not None
        lead = min(r.partition() or 0 for r, a in zip(records, applies, strict=True) if a)
        found = LabelledOutcome(emitted=emit, lead=lead)
        marks, blocks = moved
        self.settler.settle(step.state.setdefault(lead, Batch()), found, None, None, marks, blocks)
        if emit:
            step.outputs = [*step.outputs, *(self.settler.output(e) for e in found.events)]
        step.payload = (step.payload, found)

    def committed(self, step: Step, applied: dict[int, bool]) -> None:
        if isinstance(step.payload, tuple):
            windows, found = step.payload
            step = Step(step.outputs, step.state, windows, step.staged)
            if self.settler is not None:
                self.settler.committed(Step(payload=found), applied)
        self.windows.committed(step, applied)

    def forget(self, partitions: list[int]) -> None:
        self.windows.forget(partitions)


class Remembered:
    """A decoder that hands back its last result when given the same values again (the same
    bytes objects): the batch is decoded once for both handlers."""

    def __init__(self, decoder: RecordDecoder) -> None:
        self.decoder = decoder
        self._last: tuple[list[bytes | None], Decoded] | None = None

    def decode_many(self, values: Sequence[bytes | None]) -> Decoded:
        last = self._last
        same = last is not None and len(last[0]) == len(values)
        if last is not None and same and all(a is b for a, b in zip(last[0], values, strict=True)):
            return last[1]
        found = self.decoder.decode_many(values)
        self._last = (list(values), found)
        return found

    def decode(self, value: bytes | None) -> WireRecord:
        return self.decoder.decode(value)


class _Cached:
    """A version's bands, looked up once per batch."""

    def __init__(self, bands: Callable[[str], Mapping[str, float]]) -> None:
        self.bands, self.known = bands, dict[str, Mapping[str, float]]()

    def __call__(self, version: str) -> Mapping[str, float]:
        if version not in self.known:
            self.known[version] = self.bands(version)
        return self.known[version]
