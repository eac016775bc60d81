"""A payment re-sent with the same transaction id is decided once and counted once."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from stream_sentinel.config import load_settings
from stream_sentinel.detector.dedup import SeenTransactions, id_hash
from stream_sentinel.detector.worker import DetectorWorker
from stream_sentinel.state import keys
from stream_sentinel.state.base import Batch
from stream_sentinel.state.memory import MemoryStateStore
from stream_sentinel.transport.partitioner import partition_for
from tests.unit.test_detector_broker_faults import faulty
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
    for n in range(30):  # offsets 0..29, one batch each
        pipeline.send(tx(n, minutes=n))
        pipeline.drain(worker, n + 1)
    pipeline.send(tx(29, minutes=31))  # offset 30: 1 after its original, in the window
    pipeline.send(tx(0, minutes=32))  # offset 31: 31 after its original, a new payment
    pipeline.drain(worker, 32)
    counts = decided(pipeline)
    assert (counts["tx-29"], counts["tx-0"], sum(counts.values())) == (1, 2, 31)
    key = keys.seen_transactions("fraud-detection-group", "transactions", partition_for(b"u1", 12))
    [chunks] = pipeline.backends.state.execute(Batch().lrange(keys.PIPELINE, key, 0, -1))
    # the chunks that can still matter: offsets 21..29 and 31, 16 bytes an id
    assert [len(c) // 16 for c in chunks] == [1] * 10


def test_the_window_is_a_range_of_offsets_and_redis_keeps_the_chunks_inside_it() -> None:
    store = MemoryStateStore()
    seen = SeenTransactions(store, "g", "t", window=5)
    seen.load([0])
    offset = 0
    for chunk in ([1, 2, 3], [4, 5], [6, 7, 8, 9]):
        batch = Batch()
        applied = [(id_hash(str(n)), offset + i) for i, n in enumerate(chunk)]
        offset += len(chunk)
        seen.write(batch, 0, applied)
        store.execute(batch)
        seen.remember(0, applied)
    # newest offset 8: chunks ending at or after offset 3 stay ([4, 5] at 3-4 and [6..9] at 5-8)
    assert seen.cached_ids == 6
    [stored] = store.execute(Batch().lrange(keys.PIPELINE, seen.key(0), 0, -1))
    assert [len(c) // 16 for c in stored] == [4, 2]
    fresh = SeenTransactions(store, "g", "t", window=5)
    rows = fresh.duplicates([0, 0, 0, 0], [9, 9, 10, 10], [id_hash(n) for n in "5365"],
                            [True, True, False, True])  # fmt: skip
    # "5" was applied at offset 4: 9 - 4 = 5 is in the window; "3" (offset 2) was trimmed; a
    # replayed row is never a duplicate; "5" again at 10 repeats the row at 9? no: that row was
    # itself a duplicate and not applied, so 10 - 4 = 6 is outside the window
    assert rows == [0]


def _crash_the_next_state_write(pipeline: Pipeline, worker: DetectorWorker) -> None:
    """The next batch's Kafka transaction commits; the worker dies before its Redis write."""
    pipeline.write_faults.fail_next_write(SystemExit("killed after the Kafka commit"))
    with pytest.raises(SystemExit):
        worker.poll()
        worker.loop.settle()
    assert worker.loop.consumer is not None
    worker.loop.consumer.close()


def _repair(pipeline: Pipeline) -> DetectorWorker:
    repairer = pipeline.worker()
    for _ in range(20):
        repairer.poll()
    repairer.loop.settle()
    return repairer


def test_a_repair_in_other_batches_decides_every_duplicate_as_the_live_run_did() -> None:
    # the live run handles [4..8, tx-1] as one burst batch; the repair re-reads it as two
    settings = load_settings("test", environ={
        "SENTINEL_DETECTOR_DEDUP_WINDOW": "3", "SENTINEL_DETECTOR_MAX_BATCH": "3",
        "SENTINEL_DETECTOR_MAX_BATCH_BURST": "6",
    })  # fmt: skip
    pipeline = Pipeline(settings)
    worker = pipeline.worker()
    for n in range(1, 4):
        pipeline.send(tx(n, minutes=n))
    pipeline.drain(worker, 3)
    for n in range(4, 9):
        pipeline.send(tx(n, minutes=n))
    pipeline.send(tx(1, minutes=9))  # 8 offsets after its original: outside the window of 3
    _crash_the_next_state_write(pipeline, worker)
    repairer = _repair(pipeline)
    assert repairer.loop.stats.repaired == 6
    counts = decided(pipeline)
    assert sum(counts.values()) == 9 and counts["tx-1"] == 2
    assert pipeline.profile_count("u1") == 9  # the repair applied what the live run decided


def test_two_lost_batches_repaired_as_one_keep_the_live_decisions() -> None:
    settings = load_settings("test", environ={"SENTINEL_DETECTOR_DEDUP_WINDOW": "3"})
    pipeline = Pipeline(settings)
    worker = pipeline.worker()
    for n in range(1, 4):
        pipeline.send(tx(n, minutes=n))
    pipeline.drain(worker, 3)
    lose = _snapshot_redis(pipeline)
    for n in range(4, 7):
        pipeline.send(tx(n, minutes=n))
    pipeline.drain(worker, 6)
    pipeline.send(tx(7, minutes=7))
    pipeline.send(tx(1, minutes=8))  # offset 7, 7 after its original: a new payment
    pipeline.drain(worker, 8)
    worker.close()
    lose()  # Redis comes back without the last two batches' writes
    repairer = _repair(pipeline)
    assert repairer.loop.stats.repaired == 5
    assert decided(pipeline)["tx-1"] == 2
    assert pipeline.profile_count("u1") == 8


def _snapshot_redis(pipeline: Pipeline) -> Any:
    store = pipeline.backends.state
    watermarks = "wm:fraud-detection-group:transactions"
    seen = keys.seen_transactions("fraud-detection-group", "transactions", partition_for(b"u1", 12))
    profile, marks, chunks = store.execute(
        Batch().get(keys.PROFILES, keys.user_profile("u1")).hgetall(keys.PIPELINE, watermarks)
        .lrange(keys.PIPELINE, seen, 0, -1)
    )  # fmt: skip

    def restore() -> None:
        store.execute(
            Batch().set(keys.PROFILES, keys.user_profile("u1"), profile)
            .hset(keys.PIPELINE, watermarks, marks).delete(keys.PIPELINE, seen)
            .lpush(keys.PIPELINE, seen, *reversed(chunks))
        )  # fmt: skip

    return restore


def test_a_write_replayed_after_a_lost_reply_does_not_hide_the_next_batchs_ids() -> None:
    pipeline = Pipeline()
    faults = faulty(pipeline)
    worker = pipeline.worker()
    pipeline.write_faults.repeat_next_write()  # batch A: applied, its reply lost: REPLAYED
    hold = pipeline.write_faults.hold_next_write()  # batch B: in flight until C is handled
    pipeline.send(tx(1, minutes=1))
    worker.poll()  # A
    pipeline.send(tx(2, minutes=2))
    worker.poll()  # B (A settles: REPLAYED)
    # C is handled (reads its state) before it commits: its commit releases B's write
    faults.before("commit_transaction", hold.release)
    pipeline.send(tx(2, minutes=3))
    worker.poll()  # C: tx-2 again, while B's write is in flight
    assert (faults.pending, pipeline.write_faults.pending) == (0, 0)
    worker.loop.settle()
    assert decided(pipeline) == Counter({"tx-1": 1, "tx-2": 1})
    assert [d["error_type"] for d in pipeline.read("dead-letter")] == ["duplicate"]
    assert pipeline.profile_count("u1") == 2
