"""The store-stats contract on the embedded store; the slowlog's masking and the hit rate."""

from __future__ import annotations

import pytest

from stream_sentinel.clock import ManualClock
from stream_sentinel.state.base import Batch
from stream_sentinel.state.base import Namespace as NS
from stream_sentinel.state.memory import MemoryStateStore
from stream_sentinel.state.memory_faults import FaultyStateStore
from stream_sentinel.state.stats import (
    Slowlog,
    StoreStats,
    first_keys,
    keyspace_stats,
    mask_command,
    slow_entry,
)
from tests.contract.store_stats_contract import StoreStatsContract, per_database, seed


class TestMemoryStoreStats(StoreStatsContract):
    @pytest.fixture
    def clock(self) -> ManualClock:
        return ManualClock()

    @pytest.fixture
    def store(self, clock: ManualClock) -> MemoryStateStore:
        return MemoryStateStore(clock)


def test_the_embedded_store_knows_keys_and_expiries_only() -> None:
    store = MemoryStateStore(ManualClock())
    seed(store)
    stats = store.stats()
    assert (
        stats.backend,
        stats.ops_per_sec,
        stats.keyspace_hits,
        stats.keyspace_misses,
        stats.hit_rate,
        stats.evicted_keys,
        stats.expired_keys,
        stats.connected_clients,
        stats.key_namespace,
    ) == ("memory", None, None, None, None, 0, 0, None, "")
    assert store.slowlog(10) == Slowlog(available=False, entries=())


def test_expired_keys_survive_a_clear() -> None:
    clock = ManualClock()
    store = MemoryStateStore(clock)
    store.execute(Batch().set(NS.PROFILES, "a", b"1", ttl_ms=10).set(NS.PROFILES, "b", b"2"))
    clock.advance(1)
    assert store.key_count(NS.PROFILES) == 1  # "a" is dropped here, and counted
    store.clear()
    assert store.stats().expired_keys == 1


def test_the_fault_wrapper_passes_the_figures_through() -> None:
    clock = ManualClock()
    inner = MemoryStateStore(clock)
    seed(inner)
    wrapped = FaultyStateStore(inner)
    assert wrapped.stats() == inner.stats()
    assert per_database(wrapped.stats())[NS.PROFILES] == (3, 2)
    assert wrapped.slowlog(5) == Slowlog(available=False)


def _stats(hits: int | None, misses: int | None) -> StoreStats:
    return StoreStats("redis", 0, hits, misses, 0, 0, 1, "", ())


def test_the_hit_rate_is_hits_over_lookups() -> None:
    assert _stats(3, 1).hit_rate == 0.75
    assert _stats(0, 4).hit_rate == 0.0
    assert _stats(0, 0).hit_rate is None  # nothing looked up yet
    assert _stats(None, None).hit_rate is None


def test_info_keyspace_maps_to_namespaces_and_a_missing_database_is_empty() -> None:
    found = keyspace_stats(
        {"db0": {"keys": 7, "expires": 5, "avg_ttl": 3_000}, "db3": {"keys": 2, "expires": 0}}
    )
    assert [(d.ns, d.keys, d.expires, d.avg_ttl_ms) for d in found] == [
        (NS.PROFILES, 7, 5, 3_000),
        (NS.PIPELINE, 0, 0, 0),
        (NS.FEEDBACK, 0, 0, 0),
        (NS.MODELS, 2, 0, 0),
        (NS.DRIFT, 0, 0, 0),
        (NS.EXPERIMENTS, 0, 0, 0),
    ]


@pytest.mark.parametrize(
    ("argv", "shown"),
    [
        ([b"GET", b"user:42"], ("GET", "user:42")),
        ([b"set", b"user:42", b"\x00\x01profile"], ("SET", "user:42", "<9 bytes>")),
        (
            [b"HSET", b"k" * 40, b"field", b"value", b"f2", b"v2"],
            ("HSET", "k" * 32 + "…", "<5 bytes>", "<5 bytes>", "… 2 more"),
        ),
        ([b"AUTH", b"default", b"hunter2"], ("AUTH",)),
        ([b"auth", b"hunter2"], ("AUTH",)),
        ([b"HELLO", b"3", b"AUTH", b"default", b"hunter2"], ("HELLO",)),
        ([b"CONFIG", b"SET", b"requirepass", b"hunter2"], ("CONFIG",)),
        ([b"ACL", b"SETUSER", b"ana", b">hunter2"], ("ACL",)),
        ([b"MIGRATE", b"h", b"6379", b"", b"0", b"5000", b"AUTH", b"pw"], ("MIGRATE",)),
        ([b"CLIENT", b"SETNAME", b"x"], ("CLIENT",)),
        ([b"PING"], ("PING",)),
        ([], ()),
    ],
)
def test_a_slow_command_shows_its_key_and_only_the_sizes_of_its_values(
    argv: list[bytes], shown: tuple[str, ...]
) -> None:
    assert mask_command(argv) == shown


def test_a_raw_slowlog_entry_is_masked_on_the_way_in() -> None:
    entry = slow_entry([12, 1_700_000_000, 15_000, [b"CONFIG", b"SET", b"masterauth", b"pw"]])
    assert (entry.id, entry.started_at_s, entry.duration_us, entry.command) == (
        12,
        1_700_000_000,
        15_000,
        ("CONFIG",),
    )
    with_client = slow_entry([3, 1, 2, [b"SET", b"k", b"v"], b"127.0.0.1:5000", b"worker"])
    assert with_client.command == ("SET", "k", "<1 bytes>")


def test_a_namespaced_count_stops_at_its_bound_and_says_so() -> None:
    assert first_keys(iter(["a", "b", "c"]), limit=2) == (["a", "b"], False)
    assert first_keys(iter(["a", "b", "c"]), limit=3) == (["a", "b", "c"], True)
    assert first_keys(iter([]), limit=3) == ([], True)
