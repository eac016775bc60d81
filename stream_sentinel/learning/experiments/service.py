"""The experiments service (``stream-sentinel experiments run``): the consumer group
``experiments-group`` on ``decision-features`` and ``fraud-feedback``, the settlement of what
passed its label deadline, and the decision rule acted on.

One loop per topic, both members of the same group (as the learner's). Between two batches it
reads the running experiment again when due (or at once, when a row names another one),
settles the buckets that are due (only while both loops have read every record sent so far: a
backlog read ahead on one partition or topic would otherwise settle buckets before their other
rows and labels are in), and asks the judge. An experiment
that ended (here, or by an operator's `experiments stop`) has its kept rows and labels deleted;
its counters, evidence trail and history stay: they are its record. Run one process: the event
clock and the settlement are per process, and a second process started fences the first (it
uses the same transactional ids).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from stream_sentinel.clock import SYSTEM_CLOCK, Clock
from stream_sentinel.config import Settings
from stream_sentinel.learning.experiments import keys
from stream_sentinel.learning.experiments.follower import Followed
from stream_sentinel.learning.experiments.intake import DecisionIntake, LabelIntake
from stream_sentinel.learning.experiments.judge import Judge
from stream_sentinel.learning.experiments.policy import deadline_ms, rule_of
from stream_sentinel.learning.experiments.settlement import Settler
from stream_sentinel.learning.experiments.store import ExperimentStore
from stream_sentinel.learning.label_consumer import caught_up
from stream_sentinel.learning.registry import ModelRegistry
from stream_sentinel.logic.experiments.definition import Experiment
from stream_sentinel.state.base import Batch, StateStore
from stream_sentinel.stream.loop import StreamLoop
from stream_sentinel.stream.running import UNASSIGNED_GRACE_S, consumer_caught_up
from stream_sentinel.transport.base import Broker
from stream_sentinel.transport.topics import Topics
from stream_sentinel.wire.serde import Serde

log = logging.getLogger(__name__)


class ExperimentService:
    def __init__(
        self,
        loops: tuple[StreamLoop, StreamLoop],
        state: StateStore,
        followed: Followed,
        settler: Settler,
        judge: Judge,
        waits: Clock = SYSTEM_CLOCK,
        grace_s: float = UNASSIGNED_GRACE_S,
    ) -> None:
        self.loops, self._state, self.followed = loops, state, followed
        self.settler, self.judge, self._waits = settler, judge, waits
        self._started, self._grace_s = waits.monotonic(), grace_s
        self._next_judge = float("-inf")
        self.ended: list[Experiment] = []  # experiments this process ended

    def start(self) -> None:
        """Start the loops; first tidy up after experiments that ended while no service ran
        (or before a crash let this one tidy)."""
        self._started = self._waits.monotonic()
        self.followed.refresh(force=True)
        store = ExperimentStore(self._state, self._waits)
        for experiment in store.all():
            if not experiment.running and self._holds(experiment):
                self.tidy(experiment)
        for loop in self.loops:
            loop.start()

    def _holds(self, experiment: Experiment) -> bool:
        [found] = self._state.execute(Batch().exists(keys.NS, keys.buckets(experiment.id)))
        return bool(found)

    def close(self) -> None:
        for loop in self.loops:
            loop.close()

    def step(self) -> int:
        """One batch of each loop, then settlement and the rule; returns the records read."""
        self.followed.refresh()
        self._tidy_stopped()
        read = sum(loop.poll() for loop in self.loops)
        self._tidy_stopped()  # (a batch may have named a new experiment)
        experiment = self.followed.experiment
        if experiment is None:
            return read
        if all(read_to_end(loop) for loop in self.loops):
            self.settler.settle()  # every decision and label sent so far is in: none left out
        now = self._waits.monotonic()
        if read or now >= self._next_judge:
            self._next_judge = now + self.followed.check_s
            ended = self.judge.judge(experiment)
            if ended is not None:
                self.ended.append(ended)
                self.followed.refresh(force=True)
                self._tidy_stopped()
        return read

    def _tidy_stopped(self) -> None:
        while self.followed.stopped:
            self.tidy(self.followed.stopped.pop())

    def run(self, stopped: Callable[[], bool], idle_s: float | None) -> None:
        """Step until ``stopped()``, or until both loops have been caught up for ``idle_s``."""
        started, idle_since = self._waits.monotonic(), None
        while not stopped():
            if self.step():
                idle_since = None
                continue
            grace_over = self._waits.monotonic() - started >= self._grace_s
            if idle_s is None or not all(caught_up(loop, grace_over) for loop in self.loops):
                idle_since = None
                continue
            idle_since = self._waits.monotonic() if idle_since is None else idle_since
            if self._waits.monotonic() - idle_since >= idle_s:
                return

    def tidy(self, experiment: Experiment) -> None:
        """Delete what an ended experiment kept for settlement (its record stays)."""
        [found] = self._state.execute(
            Batch().zrangebyscore(keys.NS, keys.buckets(experiment.id), float("-inf"), float("inf"))
        )
        writes = Batch().delete(keys.NS, keys.buckets(experiment.id))
        for _, score in found:
            writes.delete(keys.NS, keys.rows(experiment.id, int(score)))
            writes.delete(keys.NS, keys.labels(experiment.id, int(score)))
        self._state.execute(writes)

    def read_counts(self) -> tuple[int, int, int, int]:
        """Decisions and labels counted for an experiment here, frauds settled, undecodable."""
        decisions, labels = (loop.handler for loop in self.loops)
        assert isinstance(decisions, DecisionIntake) and isinstance(labels, LabelIntake)
        undecodable = decisions.undecodable + labels.undecodable
        return decisions.kept, labels.kept, self.settler.frauds, undecodable


def read_to_end(loop: StreamLoop) -> bool:
    """The loop holds partitions and has read each to its end (with none assigned, as during
    a rebalance, it cannot say that nothing is left unread)."""
    consumer = loop.consumer
    return consumer is not None and bool(consumer.assignment()) and consumer_caught_up(consumer)


class RegistryBands:
    """A version's risk bands from the model registry, cached (a version never changes)."""

    def __init__(self, registry: ModelRegistry) -> None:
        self.registry = registry
        self._known: dict[str, Mapping[str, float]] = {}

    def __call__(self, version: str) -> Mapping[str, float]:
        if version not in self._known:
            found = self.registry.find(version)
            if found is None:
                return {}
            self._known[version] = dict(found.bands)
        return self._known[version]


def experiment_service(
    settings: Settings,
    broker: Broker,
    state: StateStore,
    serde: Serde,
    registry: ModelRegistry,
    clock: Clock = SYSTEM_CLOCK,
    poll_timeout_s: float = 0.2,
    check_s: float = 5.0,
    grace_s: float = UNASSIGNED_GRACE_S,
) -> ExperimentService:
    """The service on these backends (``clock``: wall time of the experiment's days and the
    waits between checks)."""
    topics = Topics.from_settings(settings)
    s = settings.experiments
    followed = Followed(state, deadline_ms(s), check_s, clock)
    group = f"{topics.prefix}{s.group_id}"
    prefix = f"{topics.prefix}experiments"
    decisions = DecisionIntake(
        serde, followed, RegistryBands(registry), settings.detector.alert_level
    )
    labels = LabelIntake(serde, followed, state.execute)
    loops = tuple(
        StreamLoop(
            broker,
            state,
            handler,
            group_id=group,
            topic=topic,
            guarantee="exactly-once",
            transactional_id=f"{prefix}-{name}",  # one service: a second one fences the first
            max_batch=settings.detector.max_batch,
            poll_timeout_s=poll_timeout_s,
            clock=clock,
        )
        for handler, topic, name in (
            (decisions, topics.decision_features, "decisions"),
            (labels, topics.fraud_feedback, "labels"),
        )
    )
    store = ExperimentStore(state, clock)
    judge = Judge(store, registry, s, clock)
    settler = Settler(state, followed, store, rule_of(s))
    return ExperimentService((loops[0], loops[1]), state, followed, settler, judge, clock, grace_s)
