"""Writing a batch's state: per input partition one atomic guarded batch that advances that
partition's watermark (``wm:{group}:{topic}``), in one round trip.

Each write is guarded by the watermark this worker last wrote (``expected``), so the outcome
says exactly what happened (:class:`~stream_sentinel.state.base.Outcome`): ``APPLIED``;
``REPLAYED`` (that watermark was already applied: nothing changed); ``DIVERGED`` (the watermark
is behind what this worker wrote: Redis lost writes, and the partition is handed to
``on_diverged`` to be rebuilt from the input topic).

With ``overlap`` the write runs on a writer thread while the next batch is handled
(:meth:`StateWriter.submit`); at most one write is in flight, and :meth:`StateWriter.settle`
waits for it and acts on its outcome.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from stream_sentinel.state import keys
from stream_sentinel.state.base import Batch, Guard, Outcome, StateStore
from stream_sentinel.stream.handler import Handler, Step

log = logging.getLogger(__name__)


class RepairConflict(Exception):
    """While repairing a partition, its watermark moved under us: someone else writes it."""

    def __init__(self, partition: int) -> None:
        super().__init__(f"partition {partition}: watermark moved during repair")
        self.partition = partition


@dataclass
class _PendingWrite:
    """A step's state write on the writer thread, with what settling it needs."""

    step: Step
    next_offsets: dict[int, int]
    partitions: list[int]
    future: Future[list[Outcome]]


class StateWriter:
    """One consumer group's state writes for one input topic (see the module docstring)."""

    def __init__(
        self,
        store: StateStore,
        handler: Handler,
        *,
        group_id: str,
        topic: str,
        overlap: bool,
        on_diverged: Callable[[int, int], None],
    ) -> None:
        self.store, self.handler = store, handler
        self.group_id, self.topic = group_id, topic
        self.overlap = overlap
        self.on_diverged = on_diverged  # (partition, end): rebuild its state up to ``end``
        self.watermark_key = keys.watermark(group_id, topic)
        #: partition -> the watermark this worker last wrote (None: none yet); a partition not
        #: here is written unchained (its first write after an assignment or a repair)
        self.expected: dict[int, int | None] = {}
        #: partitions being repaired: a divergence there is another writer, not a lost write
        self.repairing: set[int] = set()
        self._thread: ThreadPoolExecutor | None = None
        self._pending: _PendingWrite | None = None

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self) -> None:
        if self.overlap:
            self._thread = ThreadPoolExecutor(1, thread_name_prefix=f"{self.group_id}-state")

    def close(self) -> None:
        """Stop the writer thread (after the write in flight, if any)."""
        if self._thread is not None:
            self._thread.shutdown(wait=True)
            self._thread = None

    # -- writing ------------------------------------------------------------------------------
    def write(self, step: Step, next_offsets: dict[int, int]) -> dict[int, bool]:
        """Each partition's state writes, atomically with its watermark (one round trip).

        Returns, per partition, whether the step's writes were applied. A watermark behind the
        one this worker last wrote means Redis lost writes: that partition's state is rebuilt
        from the input topic up to ``next_offsets`` instead (and reported as not applied).
        """
        self.settle()
        partitions, items = self._guarded_items(step, next_offsets)
        outcomes = self.store.apply_guarded_many(items)
        return self._act_on(partitions, outcomes, next_offsets)[0]

    def submit(self, step: Step, next_offsets: dict[int, int]) -> None:
        """Send the step's write to the writer thread; :meth:`settle` it before the next one."""
        assert self._thread is not None, "overlapped writes need start() (and overlap=True)"
        assert self._pending is None, "settle() the write in flight first"
        partitions, items = self._guarded_items(step, next_offsets)
        future = self._thread.submit(self.store.apply_guarded_many, items)
        self._pending = _PendingWrite(step, next_offsets, partitions, future)

    def settle(self) -> set[int]:
        """Wait for the state write in flight (if any) and act on its outcome; returns the
        partitions whose state had to be rebuilt from the input topic instead."""
        pending = self._pending
        if pending is None:
            return set()
        try:
            outcomes = pending.future.result()
        except BaseException:
            if pending.future.done():  # the write failed: reported here, once
                self._pending = None
            raise  # else interrupted while waiting: close() settles it
        self._pending = None
        applied, rebuilt = self._act_on(pending.partitions, outcomes, pending.next_offsets)
        self.handler.committed(pending.step, applied)
        return rebuilt

    @property
    def in_flight(self) -> bool:
        return self._pending is not None

    # -- guards and watermarks ----------------------------------------------------------------
    def forget(self, partitions: list[int]) -> None:
        """Stop chaining these partitions' writes (no longer ours, or repaired by another)."""
        for partition in partitions:
            self.expected.pop(partition, None)

    def watermarks(self) -> dict[int, int]:
        """Every partition's watermark as Redis has it now (one read)."""
        [fields] = self.store.execute(Batch().hgetall(keys.PIPELINE, self.watermark_key))
        return {int(p): int(v) for p, v in fields.items()}

    def guard(self, partition: int, next_offset: int) -> Guard:
        """The write of ``partition`` up to ``next_offset``, chained on ``expected``."""
        if partition in self.expected:
            expect = self.expected[partition]
            return Guard(keys.PIPELINE, self.watermark_key, str(partition), next_offset, expect)
        return Guard(keys.PIPELINE, self.watermark_key, str(partition), next_offset)

    def _guarded_items(
        self, step: Step, next_offsets: dict[int, int]
    ) -> tuple[list[int], list[tuple[Guard, Batch]]]:
        partitions = sorted(next_offsets)
        items = [(self.guard(p, next_offsets[p]), step.state.get(p) or Batch()) for p in partitions]
        return partitions, items

    def _act_on(
        self, partitions: list[int], results: list[Outcome], next_offsets: dict[int, int]
    ) -> tuple[dict[int, bool], set[int]]:
        """Act on a write's outcomes: returns, per partition, whether it was applied, and the
        partitions rebuilt from the input topic because Redis had lost writes."""
        outcomes = dict(zip(partitions, results, strict=True))
        rebuilt = set()
        for partition, outcome in outcomes.items():
            if outcome is Outcome.APPLIED:
                self.expected[partition] = next_offsets[partition]
            elif outcome is Outcome.REPLAYED:
                log.info(
                    "%s[%d]: state up to offset %d was already applied (a replay)",
                    self.topic,
                    partition,
                    next_offsets[partition],
                )
                # e.g. our own write, retried after its reply was lost: follow the watermark
                self.expected[partition] = self.watermarks().get(partition)
            elif partition in self.repairing:
                raise RepairConflict(partition)
            else:
                self.on_diverged(partition, next_offsets[partition])
                rebuilt.add(partition)
        return {p: outcome is Outcome.APPLIED for p, outcome in outcomes.items()}, rebuilt
