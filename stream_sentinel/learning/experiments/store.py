"""The experiments store: at most one running experiment, its record, its counters.

Starting and ending move one guarded slot (``experiments:active``) so two operators racing to
start two experiments cannot both succeed, and an experiment ends exactly once. Counters are
added under a per-partition offset guard: a batch of input counted twice (a restart, a
rebalance) is refused as a replay, so each transaction is counted exactly once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from stream_sentinel.clock import Clock
from stream_sentinel.errors import StateError, UsageError
from stream_sentinel.learning.experiments import keys
from stream_sentinel.logic.experiments.counting import with_cost
from stream_sentinel.logic.experiments.definition import Experiment, Point, Step
from stream_sentinel.state.base import Batch, Guard, Outcome, StateStore


class ExperimentStore:
    def __init__(self, store: StateStore, clock: Clock) -> None:
        self._store, self._clock = store, clock

    # -- reading ----------------------------------------------------------------------------
    def find(self, experiment_id: str) -> Experiment | None:
        [blob] = self._store.execute(Batch().get(keys.NS, keys.definition(experiment_id)))
        return None if blob is None else Experiment.decode(blob)

    def get(self, experiment_id: str) -> Experiment:
        found = self.find(experiment_id)
        if found is None:
            raise UsageError(
                f"no experiment {experiment_id!r}; `stream-sentinel experiments list` shows them"
            )
        return found

    def active(self) -> Experiment | None:
        """The running experiment, if any."""
        current, _ = self._slot()
        return None if current is None else self.get(current)

    def all(self) -> list[Experiment]:
        """Every experiment, newest first."""
        [ids] = self._store.execute(
            Batch().zrangebyscore(keys.NS, keys.INDEX, float("-inf"), float("inf"))
        )
        return [self.get(member) for member, _ in reversed(ids)]  # members come back as str

    def history(self, experiment_id: str) -> list[Step]:
        """Its steps, newest first."""
        [blobs] = self._store.execute(Batch().lrange(keys.NS, keys.history(experiment_id), 0, -1))
        return [Step.decode(b) for b in blobs]

    def trail(self, experiment_id: str) -> list[Point]:
        """The test's evidence after each settlement, oldest first."""
        [blobs] = self._store.execute(Batch().lrange(keys.NS, keys.evidence(experiment_id), 0, -1))
        return [Point.decode(b) for b in reversed(blobs)]

    def add_cost(self, experiment_id: str, cost: Mapping[int, Sequence[float]]) -> None:
        """Add scoring cost measured by a detector: per arm, microseconds and rows."""
        writes = Batch()
        for arm, (us, rows) in sorted(cost.items()):
            writes.hincrbyfloat(keys.NS, keys.cost(experiment_id), f"{arm}:us", float(us))
            writes.hincrby(keys.NS, keys.cost(experiment_id), f"{arm}:rows", int(rows))
        self._store.execute(writes)

    def counts_with_cost(self, experiment_id: str) -> dict[str, float]:
        """Its counters, with each arm's ``scoring_us`` priced from the measured cost."""
        counts = self.counts(experiment_id)
        [found] = self._store.execute(Batch().hgetall(keys.NS, keys.cost(experiment_id)))
        return with_cost(counts, {_text(k): float(v) for k, v in found.items()})

    def settled(self, experiment_id: str) -> int:
        """The next event-time bucket its service will settle (0: none settled yet)."""
        [found] = self._store.execute(
            Batch().hget(keys.NS, keys.offsets(experiment_id), keys.SETTLED)
        )
        return int(found or 0)

    def counts(self, experiment_id: str) -> dict[str, float]:
        [found] = self._store.execute(Batch().hgetall(keys.NS, keys.counts(experiment_id)))
        return {_text(k): float(v) for k, v in found.items()}

    # -- moving ----------------------------------------------------------------------------
    def start(self, experiment: Experiment) -> Experiment:
        """Record a new running experiment (refused while another one runs)."""
        current, seq = self._slot()
        if current is not None:
            raise UsageError(
                f"experiment {current} is running; stop it first "
                f"(stream-sentinel experiments stop {current})"
            )
        if self.find(experiment.id) is not None:
            raise UsageError(f"an experiment {experiment.id} exists already; wait a minute")
        step = Step(experiment.created_ms, "start", _started(experiment), experiment.actor)
        writes = (
            Batch()
            .hset(keys.NS, keys.ACTIVE, {"id": experiment.id})
            .zadd(keys.NS, keys.INDEX, {experiment.id: experiment.created_ms})
            .set(keys.NS, keys.definition(experiment.id), experiment.encode())
            .lpush(keys.NS, keys.history(experiment.id), step.encode())
        )
        if not self._move(seq, writes) and self._slot()[0] != experiment.id:
            # (a retried write whose first attempt went through finds its own id in the slot)
            raise StateError(
                "another experiment started meanwhile; nothing was started "
                "(`stream-sentinel experiments status` shows it)"
            )
        return experiment

    def end(self, experiment_id: str, status: str, outcome: str, actor: str) -> Experiment:
        """End the running experiment ``experiment_id`` once (refused if it is not running)."""
        current, seq = self._slot()
        found = self.get(experiment_id)
        if current != experiment_id or not found.running:
            raise UsageError(f"experiment {experiment_id} is not running ({found.status})")
        ended = found.ended(status, self._clock.now_ms(), outcome)
        step = Step(ended.ended_ms or 0, _action(status), outcome, actor)
        writes = (
            Batch()
            .hdel(keys.NS, keys.ACTIVE, "id")
            .set(keys.NS, keys.definition(experiment_id), ended.encode())
            .lpush(keys.NS, keys.history(experiment_id), step.encode())
        )
        if not self._move(seq, writes):
            now = self.get(experiment_id)
            if (now.status, now.outcome) == (status, outcome):
                return now  # a retried write whose first attempt went through
            raise StateError(
                f"experiment {experiment_id} was ended meanwhile by another writer "
                f"({now.status}: {now.outcome})"
            )
        return ended

    def add_counts(
        self,
        experiment_id: str,
        source: str,
        next_offset: int,
        increments: Mapping[str, float],
    ) -> Outcome:
        """Add ``increments`` once for the input up to ``next_offset`` of ``source``
        (``"{topic}:{partition}"``); the same or an older offset again is a REPLAYED no-op."""
        writes = Batch()
        for name, amount in sorted(increments.items()):
            if float(amount).is_integer():
                writes.hincrby(keys.NS, keys.counts(experiment_id), name, int(amount))
            else:
                writes.hincrbyfloat(keys.NS, keys.counts(experiment_id), name, float(amount))
        guard = Guard(keys.NS, keys.offsets(experiment_id), source, next_offset)
        return self._store.apply_guarded(guard, writes)

    def _slot(self) -> tuple[str | None, int]:
        """The running experiment and the slot's move count. The count is read first: a move
        landing between the two reads then leaves this reader a stale count, which its guard
        refuses, never a fresh count beside a stale slot."""
        seq, current = self._store.execute(
            Batch().hget(keys.NS, keys.SEQ, keys.SEQ_FIELD).hget(keys.NS, keys.ACTIVE, "id")
        )
        return (None if current is None else _text(current)), int(seq or 0)

    def _move(self, seq: int, writes: Batch) -> bool:
        guard = Guard(keys.NS, keys.SEQ, keys.SEQ_FIELD, seq + 1, expect=seq or None)
        return self._store.apply_guarded(guard, writes) is Outcome.APPLIED


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _started(experiment: Experiment) -> str:
    how = (
        "shadow: the challenger scores beside the champion"
        if experiment.mode == "shadow"
        else f"split: {experiment.shares[1]:.0%} of users decided by the challenger"
    )
    detail = f"{experiment.challenger} against champion {experiment.champion}, {how}"
    return f"{detail}; {experiment.reason}" if experiment.reason else detail


def _action(status: str) -> str:
    return {"promoted": "promote", "better": "better", "retired": "retire"}.get(status, "stop")
