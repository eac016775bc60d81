"""The experiments service's intake: the running experiment's decisions (``decision-features``)
and the labels of its transactions (``fraud-feedback``), each applied exactly once.

Both handlers plug into the shared :class:`~stream_sentinel.stream.loop.StreamLoop`: their writes
go into the loop's guarded per-partition state batch, so a record re-read after a crash or a
rebalance changes nothing.

A decision counts for the experiment when its row names the experiment and its transaction
happened after the experiment started; a label, when its transaction happened after the start
(labels do not say which experiment decided them: a row after the start that does not name the
experiment, decided by a detector that had not read it yet, is kept as left out, so its fraud
counts for neither arm). A row counts as scored when the
models that scored it are the experiment's: the champion it started against and the
challenger. Each model flags a row when its score reaches the alerting level of its own
bands (so both are compared at the same alert budget, as their bands were chosen for the same
alert rates); the rules' levels are left out, both models running under the same rules.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from stream_sentinel.domain import RiskLevel
from stream_sentinel.learning.experiments import keys
from stream_sentinel.learning.experiments.follower import Followed
from stream_sentinel.learning.experiments.tally import DEFAULT, UNTAGGED, merge_label, row_code
from stream_sentinel.learning.labels import SourcedLabel
from stream_sentinel.logic.experiments.counting import Decided, traffic
from stream_sentinel.logic.experiments.split import arm_of
from stream_sentinel.state.base import Batch
from stream_sentinel.stream.handler import Step
from stream_sentinel.transport.base import Record
from stream_sentinel.transport.topics import DECISION_FEATURES, FRAUD_FEEDBACK
from stream_sentinel.wire.serde import Serde

#: A version's risk bands (level name -> lowest score), empty when unknown.
BandsOf = Callable[[str], Mapping[str, float]]


class _Intake:
    def __init__(self, serde: Serde, logical_topic: str, followed: Followed) -> None:
        self._decoder = serde.decoder(logical_topic)
        self.followed = followed
        self.kept = 0  # records that counted for the running experiment (repairs not counted)
        self.undecodable = 0

    def handle(self, records: Sequence[Record], applies: np.ndarray, emit: bool) -> Step:
        """The writes of a batch; a repair (``emit`` False) makes the same writes, which the
        loop applies where the first attempt's did not land, and counts nothing here."""
        decoded, failures = self._decoder.decode_many([r.value() for r in records])
        self.undecodable += len(failures) if emit else 0
        self.notice([d for d in decoded if d is not None])
        step = Step(payload={})
        if self.followed.experiment is None:
            return step
        picked: dict[int, list[dict[str, Any]]] = {}
        for record, found, apply in zip(records, decoded, applies, strict=True):
            if found is not None and apply:
                picked.setdefault(record.partition() or 0, []).append(found)
        for partition, rows in picked.items():
            batch = step.state.setdefault(partition, Batch())
            kept = self.write(batch, partition, rows, step.payload)
            self.kept += kept if emit else 0
        return step

    def notice(self, decoded: list[dict[str, Any]]) -> None:
        """A look at the batch before it is handled (the decisions read a new experiment)."""

    def write(
        self, batch: Batch, partition: int, found: list[dict[str, Any]], clocks: dict[int, int]
    ) -> int:
        raise NotImplementedError

    def committed(self, step: Step, applied: dict[int, bool]) -> None:
        """Move the event clock only where the batch's write applied: a batch whose commit
        was aborted is read again, and a clock moved past it would settle its bucket first."""
        for partition, clock in (step.payload or {}).items():
            if applied.get(partition):
                self.followed.advance(partition, clock)

    def forget(self, partitions: list[int]) -> None:
        self.followed.forget_clock()


class DecisionIntake(_Intake):
    """The running experiment's decisions: traffic counters, kept rows, the event clock."""

    def __init__(
        self, serde: Serde, followed: Followed, bands_of: BandsOf, alert_level: RiskLevel
    ) -> None:
        super().__init__(serde, DECISION_FEATURES, followed)
        self.bands_of, self.alert_level = bands_of, alert_level

    def notice(self, decoded: list[dict[str, Any]]) -> None:
        """A row naming an experiment other than the one followed: read the running one now
        (`experiments start` announces nothing here; its first rows must count)."""
        current = self.followed.experiment.id if self.followed.experiment else None
        named = {r.get("experiment_id") for r in decoded} - {None, current}
        if named:
            self.followed.refresh(force=True)

    def write(
        self, batch: Batch, partition: int, found: list[dict[str, Any]], clocks: dict[int, int]
    ) -> int:
        experiment = self.followed.experiment
        assert experiment is not None
        after = [r for r in found if int(r["event_time"]) >= experiment.created_ms]
        ours = [r for r in after if r.get("experiment_id") == experiment.id]
        latest = max((int(r["event_time"]) for r in found), default=None)
        if latest is not None:
            clocks[partition] = clock = self.followed.ahead(partition, latest)
            batch.hset(keys.NS, keys.clock(experiment.id), {str(partition): str(clock)})
        decided, unscored, settled = [], 0, self.followed.settled()
        for row in after:
            code = UNTAGGED
            if row.get("experiment_id") == experiment.id:
                one, scored = self.decided(row)
                code = row_code(one, scored)
                unscored += code.unscored
                decided += [] if code.unscored else [one]
            bucket = self.followed.buckets.of(int(row["event_time"]))
            if code != DEFAULT and bucket >= settled:  # (an older one was counted already)
                kept = {str(row["transaction_id"]): code.encode()}
                batch.hset(keys.NS, keys.rows(experiment.id, bucket), kept)
                batch.zadd(keys.NS, keys.buckets(experiment.id), {str(bucket): bucket})
        counts = traffic(decided, experiment.mode)
        counts["unscored:rows"] = float(unscored)
        counts["untagged:rows"] = float(len(after) - len(ours))
        for name, amount in sorted(counts.items()):
            if amount:
                batch.hincrby(keys.NS, keys.counts(experiment.id), name, int(amount))
        return len(ours)

    def decided(self, row: Mapping[str, Any]) -> tuple[Decided, bool]:
        """The row as the experiment sees it, and whether both models it needs scored it."""
        experiment = self.followed.experiment
        assert experiment is not None
        arm = int(row.get("arm") or 0) if experiment.mode == "split" else 0
        deciding = self._flag(row.get("model_version"), row.get("score"))
        other = self._flag(row.get("shadow_model_version"), row.get("shadow_score"))
        versions = (row.get("model_version"), row.get("shadow_model_version"))
        if arm == 1:
            deciding, other, versions = other, deciding, versions[::-1]
        champion, challenger = deciding, other
        if experiment.mode == "shadow":
            scored = versions == (experiment.champion, experiment.challenger)
            scored = scored and champion is not None and challenger is not None
        else:
            expected = experiment.challenger if arm else experiment.champion
            scored = versions[arm] == expected and (challenger if arm else champion) is not None
            # a challenger's user the champion decided (it was loading): in neither arm
            assigned = arm_of(experiment.id, str(row["user_id"]), experiment.shares)
            scored = scored and assigned == arm
        decided = Decided(
            arm=arm,
            champion_flagged=bool(champion),
            challenger_flagged=bool(challenger),
            declined=row.get("decision") == "DECLINE",
        )
        return decided, scored

    def _flag(self, version: object, score: object) -> bool | None:
        """Whether ``version`` flags ``score`` (None: no score, or bands unknown)."""
        if version is None or score is None:
            return None
        threshold = self.bands_of(str(version)).get(self.alert_level.name)
        return None if threshold is None else float(str(score)) >= threshold


class LabelIntake(_Intake):
    """Labels of the running experiment's transactions, kept until their bucket is settled."""

    def __init__(self, serde: Serde, followed: Followed, read: Callable[[Batch], list[Any]]):
        super().__init__(serde, FRAUD_FEEDBACK, followed)
        self._read = read

    def write(
        self, batch: Batch, partition: int, found: list[dict[str, Any]], clocks: dict[int, int]
    ) -> int:
        experiment = self.followed.experiment
        assert experiment is not None
        buckets, deadline = self.followed.buckets, self.followed.buckets.deadline_ms
        settled = self.followed.settled()
        taken: list[tuple[str, int, SourcedLabel]] = []
        late = 0
        for record in found:
            label = SourcedLabel.of_record(record)
            if label.event_time < experiment.created_ms:
                continue
            bucket = buckets.of(label.event_time)
            if label.label_time > label.event_time + deadline or bucket < settled:
                late += 1
                continue
            taken.append((str(record["transaction_id"]), bucket, label))
        stored = self._stored(experiment.id, taken)
        merged: dict[tuple[int, str], str] = {}
        for transaction_id, bucket, label in taken:
            at = (bucket, transaction_id)
            merged[at] = merge_label(merged.get(at, stored[at]), label)
        for (bucket, transaction_id), labels in merged.items():
            batch.hset(keys.NS, keys.labels(experiment.id, bucket), {transaction_id: labels})
            batch.zadd(keys.NS, keys.buckets(experiment.id), {str(bucket): bucket})
        if late:
            batch.hincrby(keys.NS, keys.counts(experiment.id), "labels:late", late)
        return len(taken)

    def _stored(
        self, experiment_id: str, taken: list[tuple[str, int, SourcedLabel]]
    ) -> dict[tuple[int, str], str | bytes | None]:
        """The labels already kept for these transactions (one round trip)."""
        wanted = list(dict.fromkeys((bucket, t) for t, bucket, _ in taken))
        read = Batch()
        for bucket, transaction_id in wanted:
            read.hget(keys.NS, keys.labels(experiment_id, bucket), transaction_id)
        replies = self._read(read) if wanted else []
        return dict(zip(wanted, replies, strict=True))
