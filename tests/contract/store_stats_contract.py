"""The state store's figures for the console: keys, keys with a TTL and mean TTL per database.

Subclass :class:`StoreStatsContract` and provide a ``store`` fixture (an empty store; on Redis
one with a key namespace of its own, so the figures are this test's keys only) and a ``clock``
fixture that moves the store's time (``None`` where it cannot be moved). The embedded
store runs it in the unit tier (``tests/unit/test_console_store_stats.py``), Redis in the
integration tier (``tests/integration/test_console_real.py``).
"""

from __future__ import annotations

import pytest

from stream_sentinel.clock import ManualClock
from stream_sentinel.state.base import Batch, StateStore
from stream_sentinel.state.base import Namespace as NS
from stream_sentinel.state.stats import StoreStats

HOUR_MS = 3_600_000


def seed(store: StateStore) -> None:
    """Three profiles (two with a 1 h TTL), two pipeline keys without one, a 2 h feedback key."""
    store.execute(
        Batch()
        .set(NS.PROFILES, "user:1", b"p1", ttl_ms=HOUR_MS)
        .set(NS.PROFILES, "user:2", b"p2", ttl_ms=HOUR_MS)
        .set(NS.PROFILES, "user:3", b"p3")
        .hset(NS.PIPELINE, "wm:g:t", {"0": 5})
        .sadd(NS.PIPELINE, "control:watch", "u1")
        .set(NS.FEEDBACK, "feedback:tx-1", b"1", ttl_ms=2 * HOUR_MS)
    )


def per_database(stats: StoreStats) -> dict[NS, tuple[int, int]]:
    return {d.ns: (d.keys, d.expires) for d in stats.databases}


@pytest.mark.contract
class StoreStatsContract:
    def test_an_empty_store_has_empty_databases_in_namespace_order(self, store: StateStore) -> None:
        stats = store.stats()
        assert [d.ns for d in stats.databases] == list(NS)
        assert [(d.keys, d.expires, d.avg_ttl_ms) for d in stats.databases] == [(0, 0, 0)] * 6

    def test_keys_and_keys_with_a_ttl_per_database(self, store: StateStore) -> None:
        seed(store)
        assert per_database(store.stats()) == {
            NS.PROFILES: (3, 2),
            NS.PIPELINE: (2, 0),
            NS.FEEDBACK: (1, 1),
            NS.MODELS: (0, 0),
            NS.DRIFT: (0, 0),
            NS.EXPERIMENTS: (0, 0),
        }

    def test_the_mean_ttl_is_of_the_keys_that_have_one(self, store: StateStore) -> None:
        seed(store)
        avg = {d.ns: d.avg_ttl_ms for d in store.stats().databases}
        # each TTL counts down from its 1 h or 2 h; none has run out
        assert 0 < avg[NS.PROFILES] <= HOUR_MS < avg[NS.FEEDBACK] <= 2 * HOUR_MS
        assert avg[NS.PIPELINE] == 0

    def test_the_figures_follow_the_clock(
        self, store: StateStore, clock: ManualClock | None
    ) -> None:
        if clock is None:
            pytest.skip("this store's time cannot be moved")
        seed(store)
        clock.advance(600)
        avg = {d.ns: d.avg_ttl_ms for d in store.stats().databases}
        assert (avg[NS.PROFILES], avg[NS.FEEDBACK]) == (HOUR_MS - 600_000, 2 * HOUR_MS - 600_000)
        clock.advance(3_000)  # past the profiles' hour
        stats = store.stats()
        assert per_database(stats)[NS.PROFILES] == (1, 0)
        assert stats.expired_keys == 2

    def test_deleting_and_dropping_a_ttl_show_in_the_counts(self, store: StateStore) -> None:
        seed(store)
        store.execute(
            Batch().delete(NS.PROFILES, "user:1").set(NS.FEEDBACK, "feedback:tx-1", b"no ttl")
        )
        counts = per_database(store.stats())
        assert (counts[NS.PROFILES], counts[NS.FEEDBACK]) == ((2, 1), (1, 0))
