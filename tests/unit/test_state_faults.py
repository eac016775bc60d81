"""The fault-injecting state store: the store it wraps when nothing is planned; each fault once."""

from __future__ import annotations

import threading

import pytest

from stream_sentinel.state.base import Batch, Guard, Outcome
from stream_sentinel.state.base import Namespace as NS
from stream_sentinel.state.memory import MemoryStateStore
from stream_sentinel.state.memory_faults import FaultyStateStore
from tests.contract.state_contract import StateStoreContract

pytestmark = pytest.mark.unit


class TestFaultyStateStoreWithoutFaults(StateStoreContract):
    @pytest.fixture
    def store(self) -> FaultyStateStore:
        return FaultyStateStore(MemoryStateStore())


def write(offset: int) -> tuple[Guard, Batch]:
    """Add 1 to counter ``n`` at watermark ``offset`` of partition 0."""
    return Guard(NS.PIPELINE, "wm", "0", offset), Batch().incrby(NS.PROFILES, "n")


def counter(store: FaultyStateStore) -> bytes | None:
    [value] = store.execute(Batch().get(NS.PROFILES, "n"))
    return value  # type: ignore[no-any-return]


def test_a_failed_write_changes_nothing_and_only_the_next_write_fails() -> None:
    store = FaultyStateStore(MemoryStateStore())
    store.faults.fail_next_write(SystemExit("killed"))
    with pytest.raises(SystemExit, match="killed"):
        store.apply_guarded_many([write(1)])
    assert (counter(store), store.faults.pending) == (None, 0)
    assert store.apply_guarded_many([write(1)]) == [Outcome.APPLIED]
    assert counter(store) == b"1"


def test_a_repeated_write_is_applied_once_and_answers_with_the_replay() -> None:
    store = FaultyStateStore(MemoryStateStore())
    store.faults.repeat_next_write()
    assert store.apply_guarded(*write(1)) is Outcome.REPLAYED
    assert counter(store) == b"1"


def test_faults_fire_in_the_order_planned_one_write_each() -> None:
    store = FaultyStateStore(MemoryStateStore())
    ran: list[str] = []
    store.faults.pass_next_write()
    store.faults.before_next_write(lambda: ran.append(f"before write 2, n={counter(store)!r}"))
    store.faults.fail_next_write(ConnectionError("redis went away"))
    assert store.faults.pending == 3
    assert store.apply_guarded_many([write(1)]) == [Outcome.APPLIED]
    assert ran == []
    assert store.apply_guarded_many([write(2)]) == [Outcome.APPLIED]
    assert ran == ["before write 2, n=b'1'"]
    with pytest.raises(ConnectionError, match="redis went away"):
        store.apply_guarded_many([write(3)])
    assert (counter(store), store.faults.pending) == (b"2", 0)


def test_a_held_write_happens_only_when_released() -> None:
    store = FaultyStateStore(MemoryStateStore())
    hold = store.faults.hold_next_write()
    outcomes: list[list[Outcome]] = []
    writer = threading.Thread(target=lambda: outcomes.append(store.apply_guarded_many([write(1)])))
    writer.start()
    assert hold.reached.wait(10)
    assert (counter(store), outcomes) == (None, [])  # waiting on its hold
    hold.release()
    writer.join(10)
    assert (counter(store), outcomes) == (b"1", [[Outcome.APPLIED]])
