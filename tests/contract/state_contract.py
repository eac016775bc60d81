"""One behavioural suite for every StateStore implementation.

Subclass :class:`StateStoreContract` and provide a ``store`` fixture (an empty store) and a
``clock`` fixture that moves time for TTL checks (``None`` where time cannot be moved).
The memory backend runs it in the unit tier, Redis in the integration tier.
"""

from __future__ import annotations

import threading

import pytest

from stream_sentinel.errors import StateError
from stream_sentinel.state.base import Batch, Guard, Outcome, StateStore
from stream_sentinel.state.base import Namespace as NS


@pytest.mark.contract
class StateStoreContract:
    def test_strings_round_trip_bytes_and_counters_count(self, store: StateStore) -> None:
        replies = store.execute(
            Batch()
            .set(NS.PROFILES, "user:1", b"\x00\x01profile")
            .get(NS.PROFILES, "user:1")
            .get(NS.PROFILES, "user:missing")
            .incrby(NS.PIPELINE, "count", 5)
            .incrby(NS.PIPELINE, "count", -2)
            .exists(NS.PROFILES, "user:1")
            .delete(NS.PROFILES, "user:1")
            .exists(NS.PROFILES, "user:1")
        )
        assert replies == [None, b"\x00\x01profile", None, 5, 3, True, 1, False]

    def test_many_values_in_one_command(self, store: StateStore) -> None:
        blob = b"aaaa" + b"bbbb" + b"cccc"
        store.execute(
            Batch().set_many(NS.PROFILES, ["user:a", "user:b", "user:c"], blob, 4, 60_000)
        )
        replies = store.execute(
            Batch()
            .mget(NS.PROFILES, ["user:c", "user:x", "user:a"])
            .get(NS.PROFILES, "user:b")
            .pttl(NS.PROFILES, "user:a")
        )
        assert replies[:2] == [[b"cccc", None, b"aaaa"], b"bbbb"]
        assert 59_000 < replies[2] <= 60_000
        guarded = Batch().set_many(NS.PROFILES, ["user:a", "user:d"], b"AAAADDDD", 4, 30_000)
        assert store.apply_guarded(Guard(NS.PIPELINE, "wm", "0", 1), guarded) is Outcome.APPLIED
        assert store.execute(Batch().mget(NS.PROFILES, ["user:a", "user:d", "user:b"])) == [
            [b"AAAA", b"DDDD", b"bbbb"]
        ]
        assert 0 < store.execute(Batch().pttl(NS.PROFILES, "user:d"))[0] <= 30_000
        with pytest.raises(ValueError, match="not 2 values of 4"):
            Batch().set_many(NS.PROFILES, ["a", "b"], b"12345", 4, 1000)

    def test_namespaces_are_separate_keyspaces(self, store: StateStore) -> None:
        store.execute(Batch().set(NS.PROFILES, "k", b"profiles").set(NS.PIPELINE, "k", b"pipe"))
        replies = store.execute(
            Batch().get(NS.PROFILES, "k").get(NS.PIPELINE, "k").get(NS.FEEDBACK, "k")
        )
        assert replies == [b"profiles", b"pipe", None]
        assert store.key_count(NS.PROFILES) == 1
        assert store.key_count(NS.MODELS) == 0

    def test_hashes_store_values_as_bytes_and_increment(self, store: StateStore) -> None:
        store.execute(Batch().hset(NS.PIPELINE, "merchant:m1", {"n": 3, "name": "acme", "x": 0.5}))
        replies = store.execute(
            Batch()
            .hincrby(NS.PIPELINE, "merchant:m1", "n", 2)
            .hincrbyfloat(NS.PIPELINE, "merchant:m1", "x", 0.25)
            .hget(NS.PIPELINE, "merchant:m1", "name")
            .hget(NS.PIPELINE, "merchant:m1", "nope")
            .hdel(NS.PIPELINE, "merchant:m1", "name", "nope")
            .hgetall(NS.PIPELINE, "merchant:m1")
            .hgetall(NS.PIPELINE, "merchant:none")
        )
        assert replies[:5] == [5, 0.75, b"acme", None, 1]
        assert {k: float(v) for k, v in replies[5].items()} == {"n": 5.0, "x": 0.75}
        assert replies[6] == {}

    def test_sorted_sets_rank_by_score_then_member(self, store: StateStore) -> None:
        store.execute(
            Batch().zadd(NS.PIPELINE, "control:blocked", {"u3": 300, "u1": 100, "u2": 100})
        )
        replies = store.execute(
            Batch()
            .zrangebyscore(NS.PIPELINE, "control:blocked", 0, 200)
            .zrangebyscore(NS.PIPELINE, "control:blocked", 0, 1000, limit=2)
            .zscore(NS.PIPELINE, "control:blocked", "u3")
            .zmscore(NS.PIPELINE, "control:blocked", ["u2", "u9", "u3"])
            .zcard(NS.PIPELINE, "control:blocked")
            .zremrangebyscore(NS.PIPELINE, "control:blocked", 0, 150)
            .zrem(NS.PIPELINE, "control:blocked", "u3", "u4")
            .zcard(NS.PIPELINE, "control:blocked")
        )
        assert replies == [
            [("u1", 100.0), ("u2", 100.0)],
            [("u1", 100.0), ("u2", 100.0)],
            300.0,
            [100.0, None, 300.0],
            3,
            2,
            1,
            0,
        ]

    def test_lists_push_newest_first_and_trim_inclusively(self, store: StateStore) -> None:
        replies = store.execute(
            Batch()
            .lpush(NS.PIPELINE, "alerts:u1", b"a1", b"a2")
            .lpush(NS.PIPELINE, "alerts:u1", b"a3")
            .ltrim(NS.PIPELINE, "alerts:u1", 0, 1)
            .lrange(NS.PIPELINE, "alerts:u1", 0, -1)
            .llen(NS.PIPELINE, "alerts:u1")
            .lrange(NS.PIPELINE, "alerts:none", 0, -1)
        )
        assert replies == [2, 3, None, [b"a3", b"a2"], 2, []]

    def test_sets_hold_unique_members(self, store: StateStore) -> None:
        replies = store.execute(
            Batch()
            .sadd(NS.PIPELINE, "cases:open", "c1", "c2", "c1")
            .sadd(NS.PIPELINE, "cases:open", "c2", "c3")
            .srem(NS.PIPELINE, "cases:open", "c1", "c9")
            .smembers(NS.PIPELINE, "cases:open")
            .sismember(NS.PIPELINE, "cases:open", "c3")
            .sismember(NS.PIPELINE, "cases:open", "c1")
        )
        assert replies == [2, 1, 1, {"c2", "c3"}, True, False]

    def test_wrong_type_is_an_error(self, store: StateStore) -> None:
        store.execute(Batch().set(NS.PIPELINE, "k", b"v"))
        with pytest.raises(StateError, match="WRONGTYPE"):
            store.execute(Batch().hgetall(NS.PIPELINE, "k"))

    def test_ttl_is_reported_and_a_key_without_one_reports_minus_one(
        self, store: StateStore
    ) -> None:
        store.execute(
            Batch().set(NS.PROFILES, "user:ttl", b"x", ttl_ms=60_000).set(NS.PROFILES, "p", b"y")
        )
        ttl, no_ttl, missing = store.execute(
            Batch().pttl(NS.PROFILES, "user:ttl").pttl(NS.PROFILES, "p").pttl(NS.PROFILES, "q")
        )
        assert 59_000 < ttl <= 60_000
        assert (no_ttl, missing) == (-1, -2)
        store.execute(Batch().pexpire(NS.PROFILES, "p", 30_000))
        assert 29_000 < store.execute(Batch().pttl(NS.PROFILES, "p"))[0] <= 30_000

    def test_guarded_batch_applies_once_per_watermark(self, store: StateStore) -> None:
        writes = (
            Batch()
            .incrby(NS.PROFILES, "user:1:count", 1)
            .hincrby(NS.PIPELINE, "merchant:m1", "n", 1)
        )
        guard = Guard(NS.PIPELINE, "wm:detector:transactions", "3", 101)
        assert store.apply_guarded(guard, writes) is Outcome.APPLIED
        # the same batch replayed (same watermark) and an older one change nothing
        assert store.apply_guarded(guard, writes) is Outcome.REPLAYED
        assert (
            store.apply_guarded(Guard(guard.ns, guard.key, guard.field, 50), writes)
            is Outcome.REPLAYED
        )
        replies = store.execute(
            Batch()
            .get(NS.PROFILES, "user:1:count")
            .hget(NS.PIPELINE, "merchant:m1", "n")
            .hgetall(NS.PIPELINE, "wm:detector:transactions")
        )
        assert replies == [b"1", b"1", {"3": b"101"}]
        assert (
            store.apply_guarded(Guard(guard.ns, guard.key, guard.field, 102), writes)
            is Outcome.APPLIED
        )
        assert store.execute(Batch().get(NS.PROFILES, "user:1:count")) == [b"2"]

    def test_a_guarded_batch_writes_commands_of_thousands_of_arguments(
        self, store: StateStore
    ) -> None:
        fields = {f"tx-{i}": str(i).encode() for i in range(6_001)}  # 12,002 arguments
        values = [f"v{i}".encode() for i in range(4_999)]
        writes = (
            Batch()
            .hset(NS.FEEDBACK, "scores", fields)
            .lpush(NS.FEEDBACK, "pushed", *values)
            .zadd(NS.FEEDBACK, "ranked", {f"m{i}": float(i) for i in range(3_001)})
        )
        guard = Guard(NS.FEEDBACK, "wm:big", "0", 1)
        assert store.apply_guarded(guard, writes) is Outcome.APPLIED
        found, pushed, ranked = store.execute(
            Batch()
            .hgetall(NS.FEEDBACK, "scores")
            .lrange(NS.FEEDBACK, "pushed", 0, -1)
            .zcard(NS.FEEDBACK, "ranked")
        )
        assert found == fields
        assert pushed == values[::-1]  # pushed one by one in order: the last is first
        assert ranked == 3_001

    def test_guarded_batch_covers_every_write_command(self, store: StateStore) -> None:
        store.execute(Batch().set(NS.PIPELINE, "gone", b"x").zadd(NS.PIPELINE, "z", {"old": 1}))
        writes = (
            Batch()
            .set(NS.PROFILES, "user:9", b"blob", ttl_ms=60_000)
            .delete(NS.PIPELINE, "gone")
            .hset(NS.PIPELINE, "h", {"a": b"1", "b": 2})
            .hdel(NS.PIPELINE, "h", "a")
            .hincrbyfloat(NS.PIPELINE, "h", "f", 1.5)
            .zadd(NS.PIPELINE, "z", {"new": 5})
            .zremrangebyscore(NS.PIPELINE, "z", 0, 2)
            .lpush(NS.PIPELINE, "l", b"1", b"2", b"3")
            .ltrim(NS.PIPELINE, "l", 0, 1)
            .sadd(NS.PIPELINE, "s", "m")
            .pexpire(NS.PIPELINE, "s", 60_000)
        )
        assert store.apply_guarded(Guard(NS.PIPELINE, "wm", "p", 1), writes) is Outcome.APPLIED
        replies = store.execute(
            Batch()
            .get(NS.PROFILES, "user:9")
            .exists(NS.PIPELINE, "gone")
            .hgetall(NS.PIPELINE, "h")
            .zrangebyscore(NS.PIPELINE, "z", 0, 100)
            .lrange(NS.PIPELINE, "l", 0, -1)
            .smembers(NS.PIPELINE, "s")
        )
        assert replies[0:2] == [b"blob", False]
        assert {k: float(v) for k, v in replies[2].items()} == {"b": 2.0, "f": 1.5}
        assert replies[3:] == [[("new", 5.0)], [b"3", b"2"], {"m"}]
        assert 0 < store.execute(Batch().pttl(NS.PROFILES, "user:9"))[0] <= 60_000

    def test_many_guarded_batches_apply_independently(self, store: StateStore) -> None:
        store.apply_guarded(Guard(NS.PIPELINE, "wm", "0", 5), Batch())
        applied = store.apply_guarded_many(
            [
                (Guard(NS.PIPELINE, "wm", "0", 5), Batch().incrby(NS.PIPELINE, "p0", 1)),
                (Guard(NS.PIPELINE, "wm", "1", 5), Batch().incrby(NS.PIPELINE, "p1", 1)),
                (Guard(NS.PIPELINE, "wm", "0", 6), Batch().incrby(NS.PIPELINE, "p0", 10)),
            ]
        )
        assert applied == [Outcome.REPLAYED, Outcome.APPLIED, Outcome.APPLIED]
        assert store.execute(Batch().get(NS.PIPELINE, "p0").get(NS.PIPELINE, "p1")) == [
            b"10",
            b"1",
        ]
        assert store.apply_guarded_many([]) == []

    def test_a_watermark_behind_what_its_writer_expects_means_lost_writes(
        self, store: StateStore
    ) -> None:
        first = Guard(NS.PIPELINE, "wm:g:t", "0", 10, expect=None)
        assert store.apply_guarded(first, Batch().incrby(NS.PIPELINE, "n", 1)) is Outcome.APPLIED
        # the writer expects 10 (what it wrote); the store says 10: fine
        ok = Guard(NS.PIPELINE, "wm:g:t", "0", 20, expect=10)
        assert store.apply_guarded(ok, Batch().incrby(NS.PIPELINE, "n", 1)) is Outcome.APPLIED
        # now it expects 30, but the store only has 20: the store lost a write
        lost = Guard(NS.PIPELINE, "wm:g:t", "0", 40, expect=30)
        assert store.apply_guarded(lost, Batch().incrby(NS.PIPELINE, "n", 1)) is Outcome.DIVERGED
        missing = Guard(NS.PIPELINE, "wm:g:t", "1", 5, expect=3)  # expected 3, nothing stored
        assert store.apply_guarded(missing, Batch()) is Outcome.DIVERGED
        assert store.execute(Batch().get(NS.PIPELINE, "n").hgetall(NS.PIPELINE, "wm:g:t")) == [
            b"2",
            {"0": b"20"},
        ]

    def test_guarded_batch_refuses_reads(self, store: StateStore) -> None:
        with pytest.raises(ValueError, match="'get' cannot run inside a guarded"):
            store.apply_guarded(Guard(NS.PIPELINE, "wm", "p", 1), Batch().get(NS.PROFILES, "k"))

    def test_concurrent_guarded_writers_apply_each_watermark_once(self, store: StateStore) -> None:
        # Two writers race over the same 50 watermarks: every increment lands exactly once.
        def writer() -> None:
            for wm in range(1, 51):
                store.apply_guarded(
                    Guard(NS.PIPELINE, "wm:race", "p0", wm), Batch().incrby(NS.PIPELINE, "n", 1)
                )

        threads = [threading.Thread(target=writer) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert store.execute(Batch().get(NS.PIPELINE, "n")) == [b"50"]

    def test_scan_lists_logical_keys_and_clear_empties_the_namespace(
        self, store: StateStore
    ) -> None:
        store.execute(
            Batch()
            .set(NS.PROFILES, "user:a", b"1")
            .set(NS.PROFILES, "user:b", b"2")
            .set(NS.PROFILES, "daily:a:2026-11-26", b"3")
            .zadd(NS.PIPELINE, "control:blocked", {"a": 1})
        )
        assert sorted(store.scan(NS.PROFILES, "user:*")) == ["user:a", "user:b"]
        assert store.key_count(NS.PROFILES) == 3
        assert store.clear() == 4
        assert store.key_count(NS.PROFILES) == 0
        assert store.key_count(NS.PIPELINE) == 0

    def test_ping_answers(self, store: StateStore) -> None:
        assert store.ping() is True
