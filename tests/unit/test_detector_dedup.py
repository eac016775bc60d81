"""A payment re-sent with the same transaction id is decided once and counted once."""

from __future__ import annotations

from collections import Counter

import pytest

from stream_sentinel.config import load_settings
from stream_sentinel.detector.dedup import SeenTransactions, id_hash
from stream_sentinel.state import keys
from stream_sentinel.state.base import Batch
from stream_sentinel.state.memory import MemoryStateStore
from stream_sentinel.transport.partitioner import partition_for
from tests.unit.test_detector_embedded import Pipeline, tx

pytestmark = pytest.mark.unit


def decided(pipeline: Pipeline) -> Counter[str]:
    return Counter(s["transaction_id"] for s in pipeline.read("fraud-scores"))


def test_a_resent_payment_is_a_duplicate_in_the_same_batch_and_in_a_later_one() -> None:
    pipeline = Pipeline()
    for n in range(5):
        pipeline.send(tx(n, minutes=n))
    pipeline.send(tx(2, minutes=2.5))  # the same id again, in the same batch
    worker = pipeline.worker()
    pipeline.drain(worker, 6)
    pipeline.send(tx(4, minutes=4.5))  # and in a later batch
    pipeline.send(tx(5, minutes=5))
    pipeline.drain(worker, 8)
    assert decided(pipeline) == Counter({f"tx-{n}": 1 for n in range(6)})
    assert pipeline.profile_count("u1") == 6
    letters = pipeline.read("dead-letter")
    assert [(d["error_type"], d["reason"]) for d in letters] == [
        ("duplicate", f"transaction tx-{n} was already decided (a re-sent payment): its first "
         "decision stands") for n in (2, 4)
    ]  # fmt: skip
    assert worker.summary()["dead_letters"] == {"duplicate": 2}


def test_the_window_survives_a_restart_and_a_replay_is_not_its_own_duplicate() -> None:
    pipeline = Pipeline()
    for n in range(4):
        pipeline.send(tx(n, minutes=n))
    first = pipeline.worker()
    pipeline.drain(first, 4)
    first.close()
    pipeline.send(tx(1, minutes=5))  # re-sent while no detector ran
    second = pipeline.worker()  # a new process: the window comes from Redis
    pipeline.drain(second, 1)
    assert decided(pipeline) == Counter({f"tx-{n}": 1 for n in range(4)})
    assert [d["error_type"] for d in pipeline.read("dead-letter")] == ["duplicate"]
    assert pipeline.profile_count("u1") == 4


def test_ids_older_than_the_window_are_forgotten_and_redis_keeps_only_the_window() -> None:
    settings = load_settings("test", environ={"SENTINEL_DETECTOR_DEDUP_WINDOW": "10"})
    pipeline = Pipeline(settings)
    worker = pipeline.worker()
    for n in range(30):  # one batch each
        pipeline.send(tx(n, minutes=n))
        pipeline.drain(worker, n + 1)
    pipeline.send(tx(29, minutes=31))  # still in the window
    pipeline.send(tx(0, minutes=32))  # long out of it: decided again, as a new payment
    pipeline.drain(worker, 32)
    counts = decided(pipeline)
    assert (counts["tx-29"], counts["tx-0"], sum(counts.values())) == (1, 2, 31)
    partition = partition_for(b"u1", 12)
    key = keys.seen_transactions("fraud-detection-group", "transactions", partition)
    [chunks] = pipeline.backends.state.execute(Batch().lrange(keys.PIPELINE, key, 0, -1))
    assert sum(len(c) for c in chunks) == 10 * 8  # ten 8-byte ids: the window, no more


def test_the_window_is_chunks_covering_at_least_its_size() -> None:
    store = MemoryStateStore()
    seen = SeenTransactions(store, "g", "t", window=5)
    seen.load([0])
    for chunk in ([1, 2, 3], [4, 5], [6, 7, 8, 9]):
        batch = Batch()
        hashes = [id_hash(str(n)) for n in chunk]
        seen.write(batch, 0, hashes)
        store.execute(batch)
        seen.remember(0, hashes)
    # the newest chunks that hold >= 5 ids: [6..9] and [4, 5]
    assert seen.cached_ids == 6
    [stored] = store.execute(Batch().lrange(keys.PIPELINE, seen.key(0), 0, -1))
    assert [len(c) // 8 for c in stored] == [4, 2]
    fresh = SeenTransactions(store, "g", "t", window=5)
    assert fresh.duplicates([0, 0, 0], [id_hash("5"), id_hash("3"), id_hash("5")], [1, 1, 0]) == [0]
