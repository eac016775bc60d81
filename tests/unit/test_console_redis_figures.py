"""The Redis page's figures, per-database table and slowlog, on the embedded backends."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from stream_sentinel.console.redis_memory import GONE, REFUSED, memory_estimate
from stream_sentinel.console.redis_view import NOT_AVAILABLE
from stream_sentinel.errors import StateError
from stream_sentinel.state.base import Batch, StateStore
from stream_sentinel.state.base import Namespace as NS
from stream_sentinel.state.memory import MemoryStateStore
from stream_sentinel.state.stats import DatabaseStats, SlowEntry, Slowlog, StoreStats
from tests.unit.console_rig import ConsoleRig, make_console_rig

pytestmark = pytest.mark.unit

NINE_DAYS_MS = 9 * 86_400_000


@pytest.fixture(scope="module")
def rig() -> ConsoleRig:
    return make_console_rig()


@pytest.fixture
def client(rig: ConsoleRig) -> Iterator[TestClient]:
    with rig.client() as client:
        yield client


def test_the_embedded_store_shows_what_it_knows_and_says_what_it_does_not(
    client: TestClient,
) -> None:
    redis = client.get("/api/redis").json()
    assert redis["stats"] == {
        "ops_per_sec": None,
        "keyspace_hits": None,
        "keyspace_misses": None,
        "hit_rate": None,
        "evicted_keys": 0,
        "expired_keys": 0,
        "connected_clients": None,
        "key_namespace": "",
    }
    # the seed: one profile; the pipeline's records, queues and counters, two with a TTL
    assert redis["namespaces"] == [
        {
            "name": "profiles",
            "db": 0,
            "keys": 1,
            "expires": 0,
            "avg_ttl_ms": 0,
            "counted_all": True,
        },
        {
            "name": "pipeline",
            "db": 1,
            "keys": 13,
            "expires": 2,
            "avg_ttl_ms": NINE_DAYS_MS,
            "counted_all": True,
        },
        {
            "name": "feedback",
            "db": 2,
            "keys": 0,
            "expires": 0,
            "avg_ttl_ms": 0,
            "counted_all": True,
        },
        {"name": "models", "db": 3, "keys": 0, "expires": 0, "avg_ttl_ms": 0, "counted_all": True},
        {"name": "drift", "db": 4, "keys": 0, "expires": 0, "avg_ttl_ms": 0, "counted_all": True},
        {
            "name": "experiments",
            "db": 5,
            "keys": 0,
            "expires": 0,
            "avg_ttl_ms": 0,
            "counted_all": True,
        },
    ]
    assert redis["slowlog"] == {"available": False, "entries": []}
    page = client.get("/redis").text
    na = '<span class="na">not available on the embedded store</span>'
    assert f'<tr><th>ops/s</th><td class="num">{na}</td></tr>' in page
    assert f'<tr><th>hit rate</th><td class="num">{na}</td></tr>' in page
    assert f'<tr><th>connected clients</th><td class="num">{na}</td></tr>' in page
    assert '<tr><th>evicted keys</th><td class="num">0</td></tr>' in page
    assert '<p class="note" id="scope">The embedded store\'s databases.</p>' in page
    assert (
        '<td><a href="/redis?ns=pipeline">pipeline</a></td><td class="num">1</td>'
        '<td class="num">13</td><td class="num">2</td><td class="num">9.0 d</td>'
    ) in page
    assert '<p id="slowlog" class="note">Slowlog not available on the embedded store.</p>' in page


REDIS_LIKE = StoreStats(
    backend="redis",
    ops_per_sec=1234,
    keyspace_hits=3,
    keyspace_misses=1,
    evicted_keys=7,
    expired_keys=40,
    connected_clients=5,
    key_namespace="",
    databases=tuple(DatabaseStats(ns, 10 * int(ns), int(ns), 90_000) for ns in NS),
)
SLOW = Slowlog(
    True,
    (
        SlowEntry(9, 1_700_000_000, 12_500, ("CONFIG",)),
        SlowEntry(8, 1_700_000_000, 11_000, ("SET", "user:42", "<9 bytes>")),
    ),
)


def test_a_server_s_figures_and_its_masked_slowlog(
    rig: ConsoleRig, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = rig.clients.state()
    monkeypatch.setattr(store, "stats", lambda: REDIS_LIKE)
    monkeypatch.setattr(store, "slowlog", lambda limit: SLOW)
    monkeypatch.setattr(store, "execute", _sized(store, lambda key: 64))
    with rig.client() as client:
        redis = client.get("/api/redis").json()
        page = client.get("/redis").text
    assert redis["stats"]["hit_rate"] == 0.75 and redis["stats"]["ops_per_sec"] == 1234
    assert redis["namespaces"][2] == {
        "name": "feedback",
        "db": 2,
        "keys": 20,
        "expires": 2,
        "avg_ttl_ms": 90_000,
        "counted_all": True,
    }
    assert redis["slowlog"] == {
        "available": True,
        "entries": [
            {"id": 9, "time_ms": 1_700_000_000_000, "duration_us": 12_500, "command": ["CONFIG"]},
            {
                "id": 8,
                "time_ms": 1_700_000_000_000,
                "duration_us": 11_000,
                "command": ["SET", "user:42", "<9 bytes>"],
            },
        ],
    }
    assert '<tr><th>ops/s</th><td class="num">1,234</td></tr>' in page
    assert '<td class="num">75.0 % (3 hits, 1 misses)</td>' in page
    assert '<tr><th>evicted keys</th><td class="num">7</td></tr>' in page
    assert '<tr><th>expired keys</th><td class="num">40</td></tr>' in page
    assert '<tr><th>connected clients</th><td class="num">5</td></tr>' in page
    assert "<code>SET user:42 &lt;9 bytes&gt;</code>" in page
    assert '<td class="num">12,500</td><td><code>CONFIG</code></td>' in page
    assert "not available" not in page


def test_a_server_nobody_has_looked_a_key_up_on_has_no_hit_rate_yet(
    rig: ConsoleRig, monkeypatch: pytest.MonkeyPatch
) -> None:
    fresh = StoreStats("redis", 0, 0, 0, 0, 0, 1, "t1", REDIS_LIKE.databases)
    monkeypatch.setattr(rig.clients.state(), "stats", lambda: fresh)
    monkeypatch.setattr(rig.clients.state(), "slowlog", lambda limit: Slowlog(True))
    with rig.client() as client:
        page = client.get("/redis").text
    assert '<tr><th>hit rate</th><td class="num">- (no lookups yet)</td></tr>' in page
    assert '<tr><td colspan="4">No slow commands logged.</td></tr>' in page


def test_the_embedded_store_has_no_memory_per_database_and_says_so(client: TestClient) -> None:
    memory = client.get("/api/redis").json()["memory"]
    na = {"bytes": None, "measured": 0, "whole": False, "at_least": False, "problem": NOT_AVAILABLE}
    empty = {"bytes": 0, "measured": 0, "whole": True, "at_least": False, "problem": None}
    assert memory == [
        {"name": "profiles", "db": 0, "keys": 1, **na},
        {"name": "pipeline", "db": 1, "keys": 13, **na},
        {"name": "feedback", "db": 2, "keys": 0, **empty},
        {"name": "models", "db": 3, "keys": 0, **empty},
        {"name": "drift", "db": 4, "keys": 0, **empty},
        {"name": "experiments", "db": 5, "keys": 0, **empty},
    ]
    page = client.get("/redis").text
    assert (
        '<td class="num">9.0 d</td><td class="num"><span class="na">not available on the '
        "embedded store</span></td></tr>"
    ) in page


def _sized(store: StateStore, size_of: Callable[[str], int | None]) -> Callable[[Batch], list[Any]]:
    """The store's execute, with MEMORY USAGE answered by ``size_of`` (as a server would)."""
    execute = store.execute

    def run(batch: Batch) -> list[Any]:
        if all(c.op == "memory_usage" for c in batch.commands):
            return [size_of(c.key) for c in batch.commands]
        return execute(batch)

    return run


def test_memory_is_summed_over_a_small_database_and_scaled_from_a_sample_of_a_large_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = MemoryStateStore()
    names = [f"user:{n}" for n in range(5)]
    store.execute(Batch().set_many(NS.PROFILES, names, b"x" * 5, 1, 60_000))
    sizes = {name: 100 + 10 * n for n, name in enumerate(names)}  # 100, 110, ... 140
    monkeypatch.setattr(store, "execute", _sized(store, sizes.get))
    whole = memory_estimate(store, NS.PROFILES, 5, "redis", sample=10)
    assert (whole["bytes"], whole["measured"], whole["whole"]) == (600, 5, True)
    sampled = memory_estimate(store, NS.PROFILES, 5, "redis", sample=2)
    first_two = list(store.scan(NS.PROFILES, "*"))[:2]
    mean = sum(sizes[k] for k in first_two) / 2
    assert (sampled["bytes"], sampled["measured"], sampled["whole"]) == (round(mean * 5), 2, False)
    monkeypatch.setattr(store, "execute", _sized(store, lambda key: None))  # all gone
    assert memory_estimate(store, NS.PROFILES, 5, "redis")["problem"] == GONE


NOPERM = "Redis rejected a command: NOPERM this user has no permissions to run the 'memory|usage'"


def test_a_server_refusing_memory_usage_says_so_per_database_and_the_page_stays_up(
    rig: ConsoleRig, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = rig.clients.state()
    execute = store.execute

    def refusing(batch: Batch) -> list[Any]:
        if batch.commands and all(c.op == "memory_usage" for c in batch.commands):
            raise StateError(NOPERM)
        return execute(batch)

    monkeypatch.setattr(store, "execute", refusing)
    with rig.client() as client:
        reply = client.get("/api/redis")
        page = client.get("/redis")
    assert (reply.status_code, page.status_code) == (200, 200)
    refused = {
        "bytes": None,
        "measured": 0,
        "whole": False,
        "at_least": False,
        "problem": f"{REFUSED} ({NOPERM})",
    }
    memory = reply.json()["memory"]
    assert memory[:2] == [
        {"name": "profiles", "db": 0, "keys": 1, **refused},
        {"name": "pipeline", "db": 1, "keys": 13, **refused},
    ]
    assert memory[2]["bytes"] == 0  # an empty database needs no MEMORY USAGE
    assert f'<span class="na">{REFUSED} ({NOPERM})</span>'.replace("'", "&#39;") in page.text


def test_a_key_count_that_is_a_lower_bound_makes_the_memory_figure_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = MemoryStateStore()
    names = [f"user:{n}" for n in range(5)]
    store.execute(Batch().set_many(NS.PROFILES, names, b"x" * 5, 1, 60_000))
    monkeypatch.setattr(store, "execute", _sized(store, lambda key: 100))
    # the namespace's count stopped at 3 keys: all 5 sampled are measured, none of it is whole
    bound = memory_estimate(store, NS.PROFILES, 3, "redis", sample=10, counted_all=False)
    assert (bound["bytes"], bound["measured"], bound["whole"], bound["at_least"]) == (
        500,
        5,
        False,
        True,
    )
    sampled = memory_estimate(store, NS.PROFILES, 3, "redis", sample=2, counted_all=False)
    assert (sampled["bytes"], sampled["whole"], sampled["at_least"]) == (300, False, True)


def test_the_page_marks_a_lower_bound_with_at_least(
    rig: ConsoleRig, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = rig.clients.state()
    partial = tuple(
        DatabaseStats(ns, 10_000 if ns == NS.PIPELINE else 0, 0, 0, counted_all=ns != NS.PIPELINE)
        for ns in NS
    )
    stats = StoreStats("redis", 1, 0, 0, 0, 0, 1, "t1", partial)
    monkeypatch.setattr(store, "stats", lambda: stats)
    monkeypatch.setattr(store, "slowlog", lambda limit: Slowlog(True))
    monkeypatch.setattr(store, "execute", _sized(store, lambda key: 64))
    with rig.client() as client:
        page = client.get("/redis").text
    assert '<td class="num">≥ 10,000</td>' in page
    assert '<td class="num">≥ 625.0 KiB</td></tr>' in page  # 64 B x 10,000 keys
