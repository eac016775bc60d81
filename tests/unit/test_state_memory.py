"""The embedded state store passes the state contract, plus TTL expiry with a manual clock."""

from __future__ import annotations

import pytest

from stream_sentinel.clock import ManualClock
from stream_sentinel.state.base import Batch
from stream_sentinel.state.base import Namespace as NS
from stream_sentinel.state.memory import MemoryStateStore
from tests.contract.state_contract import StateStoreContract


class TestMemoryStateStore(StateStoreContract):
    @pytest.fixture
    def store(self) -> MemoryStateStore:
        return MemoryStateStore()


def test_keys_with_a_ttl_expire_on_the_clock() -> None:
    clock = ManualClock()
    store = MemoryStateStore(clock)
    store.execute(
        Batch().set(NS.PROFILES, "user:1", b"p", ttl_ms=1_000).set(NS.PIPELINE, "c", b"x")
    )
    clock.advance(0.999)
    assert store.execute(Batch().get(NS.PROFILES, "user:1")) == [b"p"]
    clock.advance(0.001)
    assert store.execute(Batch().get(NS.PROFILES, "user:1").get(NS.PIPELINE, "c")) == [None, b"x"]
    assert store.key_count(NS.PROFILES) == 0


def test_set_without_ttl_clears_an_earlier_ttl() -> None:
    clock = ManualClock()
    store = MemoryStateStore(clock)
    store.execute(Batch().set(NS.PROFILES, "k", b"1", ttl_ms=10).set(NS.PROFILES, "k", b"2"))
    clock.advance(60)
    assert store.execute(Batch().get(NS.PROFILES, "k").pttl(NS.PROFILES, "k")) == [b"2", -1]
