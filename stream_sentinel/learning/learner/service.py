"""The learner service: the consumer group's two loops, the retrain schedule and requests.

Between two batches it asks: has the group settled and read both topics to their ends (a backlog
is read first, so a replay of weeks does not retrain once per period on the way, and a request
is not acted on before the rows already sent are in), and is a retrain due?
A retrain is due when a request not acted on yet (by id) is waiting
(:mod:`~stream_sentinel.learning.retrain_requests`), or when the learner's event time has moved
``retrain_every`` past the last retrain (or, before the first, past the time it first saw).
The retrain's intent (its trigger and event time ``now``) is written to ``learn:status`` before
training and cleared with the status after the alias moves: a crash in between redoes it at the
stored ``now`` on restart, which trains the same model on the same rows (LightGBM is
deterministic here, the version is its content hash) and moves nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from stream_sentinel.clock import SYSTEM_CLOCK, Clock
from stream_sentinel.config.learning import LearningSettings
from stream_sentinel.learning.label_consumer import caught_up
from stream_sentinel.learning.learner.consumers import FeatureRowIntake, LabelIntake
from stream_sentinel.learning.learner.retrain import (
    Retrainer,
    RetrainOutcome,
    cut_of,
    parameters_of,
)
from stream_sentinel.learning.learner.rows import HOUR_MS
from stream_sentinel.learning.learner.store import TrainingSetStore
from stream_sentinel.learning.retrain_requests import requests_waiting
from stream_sentinel.state.base import StateStore
from stream_sentinel.stream.loop import StreamLoop
from stream_sentinel.stream.running import UNASSIGNED_GRACE_S, consumer_caught_up

log = logging.getLogger(__name__)


class Learner:
    def __init__(
        self,
        loops: tuple[StreamLoop, StreamLoop],
        state: StateStore,
        retrainer: Retrainer,
        settings: LearningSettings,
        waits: Clock = SYSTEM_CLOCK,
        grace_s: float = UNASSIGNED_GRACE_S,
    ) -> None:
        self.loops, self._state = loops, state
        self._set = TrainingSetStore(state)
        self._retrainer, self._settings = retrainer, settings
        self._waits, self._grace_s = waits, grace_s
        self._started = waits.monotonic()
        self._next_request_check = float("-inf")
        self._evicted_hour = -1
        self._online_at = -(2**62)  # event time of the last online update
        self.outcomes: list[RetrainOutcome] = []

    def start(self) -> None:
        self._started = self._waits.monotonic()
        self._set.set_status(parameters=parameters_of(self._settings))
        for loop in self.loops:
            loop.start()

    def survey(self) -> None:
        """Persist the training set's counts at the learner's event time (for `learn status`)."""
        now = self._set.clock()
        if now is not None:
            self._set.set_status(training_set=self._retrainer.survey(now))

    def close(self) -> None:
        for loop in self.loops:
            loop.close()

    def _intakes(self) -> tuple[FeatureRowIntake, LabelIntake]:
        rows, labels = (loop.handler for loop in self.loops)
        assert isinstance(rows, FeatureRowIntake) and isinstance(labels, LabelIntake)
        return rows, labels

    def read_counts(self) -> tuple[int, int, int, int]:
        """Rows and labels this process kept (repairs not counted), records skipped as older
        than the window, and undecodable records."""
        rows, labels = self._intakes()
        return (
            rows.kept,
            labels.kept,
            rows.too_old + labels.too_old,
            rows.undecodable + labels.undecodable,
        )

    def step(self) -> int:
        """One batch of each loop, then a retrain if one is due; returns the records read."""
        read = sum(loop.poll() for loop in self.loops)
        self._evict_behind()
        self._learn_online()
        self.maybe_retrain()
        return read

    def _learn_online(self) -> None:
        """With an online model: learn what became learnable, once event time has moved
        ``online_update_every_ms`` since the last update, only when settled (what the store
        holds is what the topics hold), and never past a retrain to redo (its snapshot is
        the state at its own time)."""
        if self._retrainer.online is None or not self.settled():
            return
        now = self._set.clock()
        if now is None or now - self._online_at < self._settings.online_update_every_ms:
            return
        intent = self._set.status().get("intent")
        self._online_at = now
        self._retrainer.learn_online(min(now, int(intent["now_ms"])) if intent else now)

    def _evict_behind(self) -> None:
        """Drop the hours the window has left behind as event time moves (not only at a
        retrain): a replay of the topics' whole retention holds about one window in Redis."""
        rows, _ = self._intakes()
        now = rows.clock.now()
        if now is None or now // HOUR_MS <= self._evicted_hour:
            return
        self._evicted_hour = now // HOUR_MS
        intent = self._set.status().get("intent")
        if intent:  # a retrain to redo at its own time keeps its window's rows
            now = min(now, int(intent["now_ms"]))
        self._set.evict(now - self._settings.window_ms)

    def caught_up(self) -> bool:
        """Settled, or (once no assignment came within the grace: other members hold the
        partitions) every partition it does hold read to its end."""
        if self.settled():
            return True
        grace_over = self._waits.monotonic() - self._started >= self._grace_s
        return grace_over and all(caught_up(loop, True) for loop in self.loops)

    def settled(self) -> bool:
        """Both loops hold partitions and have read them to their ends: what the training set
        holds is what the topics hold (before the group settles, an assignment may be empty)."""
        for loop in self.loops:
            consumer = loop.consumer
            if consumer is None or not consumer.assignment() or not consumer_caught_up(consumer):
                return False
        return True

    def run(self, stopped: Callable[[], bool], idle_s: float | None) -> None:
        """Until ``stopped()``, or until caught up with nothing new for ``idle_s``."""
        idle_since: float | None = None
        while not stopped():
            if self.step():
                idle_since = None
                continue
            if idle_s is None or not self.caught_up():
                idle_since = None
                continue
            idle_since = self._waits.monotonic() if idle_since is None else idle_since
            if self._waits.monotonic() - idle_since >= idle_s:
                self.maybe_retrain(check_requests=True)  # a request made while catching up
                break
        self.survey()

    def maybe_retrain(self, check_requests: bool = False) -> RetrainOutcome | None:
        if not self.settled():
            return None
        now = self._set.clock()
        if now is None:
            return None
        status = self._set.status()
        intent = status.get("intent") or self._intent(now, status, check_requests)
        if intent is None:
            return None
        began = self._waits.monotonic()
        self._retrainer.learn_online(intent["now_ms"])  # the online snapshot is as of now_ms
        outcomes = self._retrainer.retrain_all(intent["now_ms"], intent["trigger"])
        outcome = outcomes[-1]
        took = self._waits.monotonic() - began
        if took > self._settings.retrain_budget_s:
            log.warning(
                "the retrain took %.0f s, over its budget of %.0f s (the consumers' poll "
                "interval): raise SENTINEL_LEARNING_RETRAIN_BUDGET_S",
                took,
                self._settings.retrain_budget_s,
            )
        for done in outcomes:
            log.info("retrain at %d (%s): %s", intent["now_ms"], intent["trigger"], done.reason)
        self._set.evict(cut_of(self._settings, intent["now_ms"]).window_start)
        self._set.record_decisions(
            [done.to_json() for done in outcomes],
            anchor_ms=intent["now_ms"],
            last_retrain_ms=intent["now_ms"],
            acted_requests=intent["acted"],
            retrains=int(status.get("retrains", 0)) + 1,
            next_retrain_ms=intent["now_ms"] + self._settings.retrain_every_ms,
            training_set=outcome.counts,
            last_decision=outcome.to_json(),
            intent=None,
        )
        self.outcomes.extend(outcomes)
        return outcome

    def _intent(
        self, now: int, status: dict[str, Any], check_requests: bool
    ) -> dict[str, Any] | None:
        """A retrain due now, persisted before training: a learner that crashes after the
        alias move redoes it at the same ``now`` (the same rows, the same version) on restart,
        instead of training on later rows and moving again."""
        anchor = int(status.get("anchor_ms", now))
        if "anchor_ms" not in status:
            self._set.set_status(
                anchor_ms=now, next_retrain_ms=now + self._settings.retrain_every_ms
            )
        trigger, acted = self._trigger(now, anchor, status, check_requests)
        if trigger is None:
            return None
        intent = {"trigger": trigger, "now_ms": now, "acted": acted}
        self._set.set_status(intent=intent)
        return intent

    def _trigger(
        self, now: int, anchor: int, status: dict[str, Any], check_requests: bool
    ) -> tuple[str | None, list[str]]:
        acted = list(status.get("acted_requests", []))
        if check_requests or self._waits.monotonic() >= self._next_request_check:
            self._next_request_check = self._waits.monotonic() + self._settings.request_check_s
            waiting = requests_waiting(self._state, acted)
            if waiting.requests:
                latest = waiting.requests[-1]
                n = len(waiting.requests)
                more = f" (+{n - 1} earlier)" if n > 1 else ""
                trigger = f"request by {latest.actor}: {latest.reason}{more}"
                return trigger, waiting.acknowledged()
        if now - anchor >= self._settings.retrain_every_ms:
            every_h = self._settings.retrain_every_ms / 3_600_000
            return f"schedule (every {every_h:g}h of event time)", acted
        return None, acted
