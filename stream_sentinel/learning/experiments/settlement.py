"""Counting the running experiment's transactions once their label deadline has passed.

A bucket of event time is settled once the event clock (the latest event time the decisions
intake has read) has passed the bucket's end plus the label deadline: each labelled fraud in it
is counted with its effective label, the bucket's kept rows and labels are deleted, and the
test's evidence after it is appended to the trail. The write is guarded by the next bucket to
settle (``settled``), so a settlement repeated after a crash is a no-op and every transaction is
counted once.
"""

from __future__ import annotations

import logging

from stream_sentinel.learning.experiments import keys
from stream_sentinel.learning.experiments.follower import Followed
from stream_sentinel.learning.experiments.store import ExperimentStore
from stream_sentinel.learning.experiments.tally import flagged, settle_bucket
from stream_sentinel.logic.experiments.definition import Experiment, Point
from stream_sentinel.logic.experiments.rule import Rule
from stream_sentinel.logic.experiments.sequential import evidence
from stream_sentinel.logic.experiments.standing import estimate_of
from stream_sentinel.state.base import Batch, Guard, StateStore

log = logging.getLogger(__name__)


class Settler:
    def __init__(
        self, state: StateStore, followed: Followed, store: ExperimentStore, rule: Rule
    ) -> None:
        self._state, self.followed, self._store, self.rule = state, followed, store, rule
        self.frauds = 0  # labelled frauds this process counted
        self.buckets = 0  # buckets this process settled

    def settle(self) -> int:
        """Settle every bucket that is due; returns how many were."""
        experiment, now = self.followed.experiment, self.followed.now()
        if experiment is None or now is None:
            return 0
        due = self.followed.buckets.due_until(now)
        if due < self.followed.settled():
            return 0
        [found] = self._state.execute(
            Batch().zrangebyscore(keys.NS, keys.buckets(experiment.id), float("-inf"), due)
        )
        buckets = sorted(int(score) for _, score in found)
        for bucket in buckets:
            self._one(experiment, bucket)
        return len(buckets)

    def _one(self, experiment: Experiment, bucket: int) -> None:
        labels_key, rows_key = keys.labels(experiment.id, bucket), keys.rows(experiment.id, bucket)
        tidy = Batch().delete(keys.NS, labels_key).delete(keys.NS, rows_key)
        tidy.zrem(keys.NS, keys.buckets(experiment.id), str(bucket))
        if bucket < self.followed.settled():  # kept after its bucket was counted: not counted
            self._state.execute(tidy)
            return
        labels, codes = self._state.execute(
            Batch().hgetall(keys.NS, labels_key).hgetall(keys.NS, rows_key)
        )
        labels = {_text(t): v for t, v in labels.items()}
        codes = {_text(t): v for t, v in codes.items()}
        tally = settle_bucket(experiment.mode, labels, codes)
        writes = Batch()
        increments = {**tally.increments, **flagged(experiment.mode, codes)}
        for name, amount in sorted(increments.items()):
            writes.hincrby(keys.NS, keys.counts(experiment.id), name, int(amount))
        if tally.unscored:
            writes.hincrby(keys.NS, keys.counts(experiment.id), "unscored:frauds", tally.unscored)
        if tally.frauds:
            point = self._point(experiment, increments, bucket)
            writes.lpush(keys.NS, keys.evidence(experiment.id), point.encode())
            writes.ltrim(keys.NS, keys.evidence(experiment.id), 0, keys.TRAIL_POINTS - 1)
        writes.commands.extend(tidy.commands)
        guard = Guard(keys.NS, keys.offsets(experiment.id), keys.SETTLED, bucket + 1)
        if self._state.apply_guarded(guard, writes):
            self.frauds += tally.frauds
            self.buckets += 1
        self.followed.settled_to(bucket)

    def _point(self, experiment: Experiment, increments: dict[str, float], bucket: int) -> Point:
        counts = self._store.counts(experiment.id)
        for name, amount in increments.items():
            counts[name] = counts.get(name, 0.0) + amount
        proof = evidence(estimate_of(experiment, counts), self.rule.mde, self.rule.alpha)
        low, high = proof.interval
        finite = low > float("-inf")
        return Point(
            at_ms=(bucket + 1) * self.followed.buckets.width,
            labels=proof.labels,
            estimate=proof.estimate,
            low=low if finite else None,
            high=high if finite else None,
            log_ratio=proof.log_ratio,
            threshold=proof.threshold,
        )


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
