"""What the experiments service's loops share: the running experiment (read again every few
seconds: `experiments start` and `stop` announce nothing to it), its event clock and how far
its buckets are settled."""

from __future__ import annotations

from stream_sentinel.clock import SYSTEM_CLOCK, Clock
from stream_sentinel.learning.experiments import keys
from stream_sentinel.learning.experiments.store import ExperimentStore
from stream_sentinel.learning.experiments.tally import Buckets
from stream_sentinel.logic.experiments.definition import Experiment
from stream_sentinel.state.base import Batch, StateStore


class Followed:
    def __init__(
        self,
        state: StateStore,
        deadline_ms: int,
        check_s: float = 5.0,
        waits: Clock = SYSTEM_CLOCK,
    ) -> None:
        self._state, self._store = state, ExperimentStore(state, waits)
        self.default_deadline_ms = deadline_ms  # for experiments recorded without their own
        self.buckets = Buckets(deadline_ms)
        self.stopped: list[Experiment] = []  # no longer running here, not tidied yet
        self.check_s, self._waits = check_s, waits
        self.experiment: Experiment | None = None
        self._next_check = float("-inf")
        self._clock: dict[int, int] | None = None
        self._settled: int | None = None

    def refresh(self, force: bool = False) -> None:
        """Read the running experiment when due (or now, with ``force``); one that stopped
        running here goes to :attr:`stopped` for the service to tidy up after."""
        now = self._waits.monotonic()
        if not force and now < self._next_check:
            return
        self._next_check = now + self.check_s
        found = self._store.active()
        if found == self.experiment:
            return
        if self.experiment is not None:
            self.stopped.append(self.experiment)
        self.experiment = found
        if found is not None:
            self.buckets = Buckets(found.deadline_or(self.default_deadline_ms))
        self._clock = self._settled = None

    # -- the event clock -------------------------------------------------------------------
    def partitions(self) -> dict[int, int]:
        if self._clock is None:
            self._clock = {}
            if self.experiment is not None:
                [found] = self._state.execute(
                    Batch().hgetall(keys.NS, keys.clock(self.experiment.id))
                )
                self._clock = {int(p): int(t) for p, t in found.items()}
        return self._clock

    def ahead(self, partition: int, event_time: int) -> int:
        """The partition's clock once ``event_time`` is read (not moved: see :meth:`advance`)."""
        return max(self.partitions().get(partition, event_time), event_time)

    def advance(self, partition: int, event_time: int) -> None:
        """Move the partition's clock, once the write that moves it in the store applied."""
        held = self.partitions()
        held[partition] = max(held.get(partition, event_time), event_time)

    def now(self) -> int | None:
        """The latest event time read on any partition (None before the first)."""
        return max(self.partitions().values(), default=None)

    def forget_clock(self) -> None:
        """Read the clock again (another member may have moved a partition meanwhile)."""
        self._clock = None

    # -- settlement ------------------------------------------------------------------------
    def settled(self) -> int:
        """The next bucket to settle (the ones below are counted)."""
        if self._settled is None:
            self._settled = 0
            if self.experiment is not None:
                [found] = self._state.execute(
                    Batch().hget(keys.NS, keys.offsets(self.experiment.id), keys.SETTLED)
                )
                self._settled = int(found or 0)
        return self._settled

    def settled_to(self, bucket: int) -> None:
        self._settled = bucket + 1
