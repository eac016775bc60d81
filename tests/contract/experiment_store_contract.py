"""One behavioural suite for the experiments store (DB5) over every StateStore implementation.

Subclass :class:`ExperimentStoreContract` and provide a ``store`` fixture (an empty store). The
embedded store runs it in the unit tier, Redis in the integration tier.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from stream_sentinel.clock import ManualClock
from stream_sentinel.errors import StateError, UsageError
from stream_sentinel.learning.experiments import keys
from stream_sentinel.learning.experiments.store import ExperimentStore
from stream_sentinel.logic.experiments.definition import Experiment, Step
from stream_sentinel.state.base import Batch, Guard, Outcome, StateStore

T0 = 1_700_000_000_000


def shadow(exp_id: str = "exp-1", at: int = T0) -> Experiment:
    return Experiment.new(exp_id, "shadow", "champ-v1", "chall-v2", None, at, "ana", "try it")


class Racing:
    """A store on which ``meddle`` runs once just before the first guarded write."""

    def __init__(self, store: StateStore, meddle: Callable[[], object]) -> None:
        self._store, self._meddle, self.meddled = store, meddle, 0

    def apply_guarded(self, guard: Guard, batch: Batch) -> Outcome:
        if not self.meddled:
            self.meddled += 1
            self._meddle()
        return self._store.apply_guarded(guard, batch)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


class ExperimentStoreContract:
    def test_a_started_experiment_is_active_listed_and_has_its_first_step(
        self, store: StateStore
    ) -> None:
        experiments = ExperimentStore(store, ManualClock(T0))
        started = experiments.start(shadow())
        assert experiments.active() == started == experiments.get("exp-1")
        assert [e.id for e in experiments.all()] == ["exp-1"]
        assert experiments.history("exp-1") == [
            Step(
                T0,
                "start",
                "chall-v2 against champion champ-v1, shadow: the challenger scores beside the "
                "champion; try it",
                "ana",
            )
        ]
        assert store.key_count(keys.NS) == 5  # index, active, seq, definition, history

    def test_only_one_experiment_runs_at_a_time_and_each_ends_once(self, store: StateStore) -> None:
        clock = ManualClock(T0)
        experiments = ExperimentStore(store, clock)
        experiments.start(shadow())
        with pytest.raises(UsageError) as refused:
            experiments.start(shadow("exp-2", T0 + 60_000))
        assert str(refused.value) == (
            "experiment exp-1 is running; stop it first (stream-sentinel experiments stop exp-1)"
        )
        clock.advance(3600)
        ended = experiments.end("exp-1", "retired", "challenger worse: recall -6.0 pts", "rule")
        assert (ended.status, ended.ended_ms, ended.outcome) == (
            "retired",
            T0 + 3_600_000,
            "challenger worse: recall -6.0 pts",
        )
        assert experiments.active() is None and experiments.get("exp-1") == ended
        assert [s.action for s in experiments.history("exp-1")] == ["retire", "start"]
        with pytest.raises(UsageError) as again:
            experiments.end("exp-1", "stopped", "twice", "ana")
        assert str(again.value) == "experiment exp-1 is not running (retired)"
        experiments.start(shadow("exp-2", T0 + 7_200_000))
        assert [e.id for e in experiments.all()] == ["exp-2", "exp-1"]

    def test_an_unknown_experiment_is_named_with_where_to_look(self, store: StateStore) -> None:
        with pytest.raises(UsageError) as missing:
            ExperimentStore(store, ManualClock(T0)).get("exp-9")
        assert str(missing.value) == (
            "no experiment 'exp-9'; `stream-sentinel experiments list` shows them"
        )

    def test_of_two_racing_starts_one_wins_and_the_other_changes_nothing(
        self, store: StateStore
    ) -> None:
        other = ExperimentStore(store, ManualClock(T0))
        racing = Racing(store, lambda: other.start(shadow("exp-other")))
        with pytest.raises(StateError) as lost:
            ExperimentStore(racing, ManualClock(T0)).start(shadow("exp-mine"))  # type: ignore[arg-type]
        assert str(lost.value) == (
            "another experiment started meanwhile; nothing was started "
            "(`stream-sentinel experiments status` shows it)"
        )
        assert [e.id for e in other.all()] == ["exp-other"]
        assert other.find("exp-mine") is None

    def test_counts_are_added_once_per_input_offset(self, store: StateStore) -> None:
        experiments = ExperimentStore(store, ManualClock(T0))
        experiments.start(shadow())
        adds = {"0:rows": 200, "1:rows": 200, "0:scoring_us": 812.5}
        assert experiments.add_counts("exp-1", "decision-features:3", 120, adds) is Outcome.APPLIED
        assert experiments.add_counts("exp-1", "decision-features:3", 120, adds) is Outcome.REPLAYED
        assert experiments.add_counts("exp-1", "decision-features:3", 90, adds) is Outcome.REPLAYED
        later = {"0:rows": 5, "1:rows": 5}
        assert experiments.add_counts("exp-1", "decision-features:4", 7, later) is Outcome.APPLIED
        assert experiments.counts("exp-1") == {
            "0:rows": 205.0,
            "1:rows": 205.0,
            "0:scoring_us": 812.5,
        }
