"""The detector end to end on the embedded backends: outputs, dead letters, state, replays."""

from __future__ import annotations

import math
import time
from collections import Counter
from typing import Any

import pytest

from stream_sentinel.clients.backends import Backends, embedded_backends
from stream_sentinel.clock import ManualClock
from stream_sentinel.config import Settings, load_settings
from stream_sentinel.detector.models import ModelSource
from stream_sentinel.detector.worker import DetectorWorker
from stream_sentinel.errors import TransactionAborted
from stream_sentinel.logic.features import COLUMN
from stream_sentinel.logic.profile import decode_profiles
from stream_sentinel.registry_server.local_client import LocalRegistryClient
from stream_sentinel.state import keys
from stream_sentinel.state.base import Batch
from stream_sentinel.state.memory_faults import FaultyStateStore
from stream_sentinel.transport.base import TopicPartition
from stream_sentinel.transport.memory_faults import Faults, FaultyBroker
from stream_sentinel.transport.topics import Topics
from stream_sentinel.wire.serde import Serde, frame

NOW = int(time.time() * 1000)


class Pipeline:
    """Embedded backends, topics, serde and helpers to feed and read the detector."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or load_settings("test", environ={})
        self.backends: Backends = embedded_backends()
        store = FaultyStateStore(self.backends.state)
        self.backends.state = store
        self.write_faults = store.faults  # what the store's next guarded writes get wrong
        self.topics = Topics()
        self.backends.broker.admin().create_topics(self.topics.specs())
        self.serde = Serde(LocalRegistryClient.in_memory())
        self._producer = self.backends.broker.producer()

    def broker_faults(self) -> Faults:
        """Give the pipeline's detectors a broker that fails on cue (same log, same groups)."""
        broker = FaultyBroker(self.backends.broker)
        self.backends.broker = broker
        return broker.faults

    def send(self, record: dict[str, Any] | bytes, key: str = "u1") -> None:
        value = record if isinstance(record, bytes) else self.serde.encoder("transactions")(record)
        self._producer.produce(self.topics.transactions, value, key.encode())

    def worker(self, models: ModelSource | None = None) -> DetectorWorker:
        worker = DetectorWorker(
            self.settings, self.backends, self.serde, models=models, clock=ManualClock(NOW)
        )
        worker.start()
        return worker

    def drain(self, worker: DetectorWorker, expected: int) -> None:
        deadline = time.monotonic() + 30
        while worker.loop.stats.records < expected and time.monotonic() < deadline:
            worker.poll()
        worker.loop.settle()  # the last batch's state write too (it overlaps the next batch)
        assert worker.loop.stats.records == expected

    def read(self, logical: str) -> list[dict[str, Any]]:
        topic = self.topics.name(logical)
        partitions = self.backends.broker.admin().describe_topics([topic])[topic].partitions
        consumer = self.backends.broker.consumer(None)
        consumer.assign({TopicPartition(topic, p): 0 for p in range(partitions)})
        values = []
        while batch := consumer.consume(10_000, 0.05):
            values += [r.value() for r in batch]
        decoder = self.serde.decoder(logical)
        return [decoder.decode(v) for v in values]

    def profile_count(self, user: str) -> int:
        [blob] = self.backends.state.execute(Batch().get(keys.PROFILES, keys.user_profile(user)))
        return int(decode_profiles([blob])[0]["n_total"])


def tx(n: int, user: str = "u1", minutes: float = 0.0, **extra: Any) -> dict[str, Any]:
    record = {
        "transaction_id": f"tx-{n}",
        "user_id": user,
        "amount": 25.0,
        "timestamp": NOW - 3_600_000 + int(minutes * 60_000),
        "channel": "POS",
        "merchant_id": "m1",
        "device_id": "d1",
        "merchant_latitude": 52.5,
        "merchant_longitude": 13.4,
        "metadata": {},
    }
    record.update(extra)
    return record


@pytest.fixture
def pipeline() -> Pipeline:
    return Pipeline()


def test_every_transaction_gets_one_decision_and_state_counts_it(pipeline: Pipeline) -> None:
    for n in range(30):
        user = f"u{n % 3}"
        pipeline.send(tx(n, user, minutes=n), key=user)
    worker = pipeline.worker()
    pipeline.drain(worker, 30)
    scores = pipeline.read("fraud-scores")
    assert sorted(s["transaction_id"] for s in scores) == sorted(f"tx-{n}" for n in range(30))
    assert [pipeline.profile_count(f"u{i}") for i in range(3)] == [10, 10, 10]
    alerts = pipeline.read("fraud-alerts")
    risky = {
        s["transaction_id"] for s in scores if s["risk_level"] in ("MEDIUM", "HIGH", "CRITICAL")
    }
    assert {a["transaction_id"] for a in alerts} == risky
    assert all(s["model_version"] is None for s in scores)  # no model yet: rules only


def test_a_burst_fires_velocity_and_alerts(pipeline: Pipeline) -> None:
    for n in range(8):
        pipeline.send(tx(n, minutes=n * 0.5))
    worker = pipeline.worker()
    pipeline.drain(worker, 8)
    by_id = {s["transaction_id"]: s for s in pipeline.read("fraud-scores")}
    assert by_id["tx-4"]["reasons"] == []
    assert by_id["tx-5"]["reasons"] == ["velocity_burst"]  # the 6th in ten minutes
    assert by_id["tx-5"]["decision"] == "REVIEW"
    assert {a["transaction_id"] for a in pipeline.read("fraud-alerts")} == {"tx-5", "tx-6", "tx-7"}


BAD_RECORDS = {
    "bad_magic": b"not avro at all",
    "nan amount": tx(100, amount=math.nan),
    "negative amount": tx(101, amount=-5.0),
    "huge amount": tx(102, amount=5e9),
    "future": tx(103, timestamp=NOW + 3_600_000),
    "no user": tx(104, user_id=""),
    "latitude": tx(105, latitude=123.0, longitude=1.0),
}


def test_bad_records_go_to_dead_letter_with_reasons(pipeline: Pipeline) -> None:
    pipeline.send(tx(1))
    for record in BAD_RECORDS.values():
        pipeline.send(record)
    pipeline.send(frame(999_999, b"\x02x"))  # an id the registry has never seen
    pipeline.send(b"\x00" + b"x" * 70_000)  # over max_payload_bytes
    pipeline.send(tx(2))
    worker = pipeline.worker()
    pipeline.drain(worker, 11)
    assert [s["transaction_id"] for s in pipeline.read("fraud-scores")] == ["tx-1", "tx-2"]
    letters = pipeline.read("dead-letter")
    assert Counter(letter["error_type"] for letter in letters) == {
        "bad_magic": 1,
        "invalid_amount": 3,
        "future_timestamp": 1,
        "missing_field": 1,
        "invalid_location": 1,
        "unknown_schema_id": 1,
        "payload_too_large": 1,
    }
    future = next(letter for letter in letters if letter["error_type"] == "future_timestamp")
    assert future["reason"].startswith("timestamp is 3600 s in the future")
    assert future["component"] == "detector" and future["source_topic"] == "transactions"
    original = pipeline.serde.encoder("transactions")(BAD_RECORDS["future"])
    assert future["value"] == original
    [counts] = pipeline.backends.state.execute(
        Batch().hgetall(keys.PIPELINE, keys.DEAD_LETTER_COUNTS)
    )
    assert {k: int(v) for k, v in counts.items()}["invalid_amount"] == 3
    assert worker.summary()["dead_letters"]["invalid_amount"] == 3


def test_zero_amounts_are_scored_and_bad_amounts_keep_their_reasons(pipeline: Pipeline) -> None:
    # a card verification authorisation (amount 0) is a payment like any other
    pipeline.send(tx(1, amount=0.0))
    pipeline.send(tx(2, amount=-0.01, minutes=1))
    pipeline.send(tx(3, amount=math.nan, minutes=2))
    pipeline.send(tx(4, amount=math.inf, minutes=3))
    pipeline.send(tx(5, amount=0.0, minutes=4))
    worker = pipeline.worker()
    pipeline.drain(worker, 5)
    scores = pipeline.read("fraud-scores")
    assert [(s["transaction_id"], s["amount"]) for s in scores] == [("tx-1", 0.0), ("tx-5", 0.0)]
    assert all(s["decision"] == "APPROVE" for s in scores)
    assert pipeline.profile_count("u1") == 2
    reasons = {d["reason"] for d in pipeline.read("dead-letter")}
    assert reasons == {
        "amount -0.01 is negative (zero, a card check, is fine)",
        "amount is nan (not a finite number)",
        "amount is inf (not a finite number)",
    }


def test_a_blocked_user_is_declined_and_a_step_up_is_challenged(pipeline: Pipeline) -> None:
    expiry = NOW + 600_000
    pipeline.backends.state.execute(
        Batch()
        .zadd(keys.PIPELINE, keys.BLOCKED, {"u1": expiry, "u3": NOW - 1})
        .zadd(keys.PIPELINE, keys.STEP_UP, {"u2": expiry})
    )
    for n, user in enumerate(["u1", "u2", "u3"]):
        pipeline.send(tx(n, user), key=user)
    worker = pipeline.worker()
    pipeline.drain(worker, 3)
    by_user = {s["user_id"]: s for s in pipeline.read("fraud-scores")}
    assert (by_user["u1"]["decision"], by_user["u1"]["reasons"]) == ("DECLINE", ["user_blocked"])
    assert (by_user["u2"]["decision"], by_user["u2"]["reasons"]) == (
        "CHALLENGE",
        ["step_up_required"],
    )
    assert (by_user["u3"]["decision"], by_user["u3"]["reasons"]) == ("APPROVE", [])  # block expired


def test_a_crash_between_kafka_commit_and_redis_write_is_repaired(pipeline: Pipeline) -> None:
    for n in range(10):
        pipeline.send(tx(n, minutes=n))
    worker = pipeline.worker()
    pipeline.write_faults.fail_next_write(SystemExit("killed after the Kafka commit"))
    with pytest.raises(SystemExit):
        worker.poll()
        worker.loop.settle()  # an overlapped write's failure surfaces when it is settled
    worker.loop.consumer.close()  # the dead process leaves the group
    assert pipeline.profile_count("u1") == 0  # Redis never saw the batch
    for n in range(10, 15):
        pipeline.send(tx(n, minutes=n))
    restarted = pipeline.worker()
    pipeline.drain(restarted, 5)
    assert restarted.loop.stats.repaired == 10
    assert pipeline.profile_count("u1") == 15
    ids = [s["transaction_id"] for s in pipeline.read("fraud-scores")]
    assert sorted(ids) == sorted(f"tx-{n}" for n in range(15))  # no decision emitted twice


def test_the_next_batch_reads_a_user_whose_write_is_still_in_flight_from_the_cache() -> None:
    pipeline = Pipeline()
    faults = pipeline.broker_faults()
    worker = pipeline.worker()
    hold = pipeline.write_faults.hold_next_write()  # batch 1's write, until batch 2 commits
    for n in range(3):
        pipeline.send(tx(n, minutes=n))
    worker.poll()  # batch 1: handled, published, its state write held on the writer thread
    assert hold.reached.wait(10)
    assert worker.loop.stats.records == 3
    assert pipeline.profile_count("u1") == 0  # not in Redis yet
    faults.before("commit_transaction", hold.release)  # batch 2 was handled before it commits
    for n in range(3, 6):
        pipeline.send(tx(n, minutes=n))
    worker.poll()  # batch 2, handled while batch 1's write is held
    worker.loop.settle()
    assert (worker.loop.stats.records, faults.pending, pipeline.write_faults.pending) == (6, 0, 0)
    assert pipeline.profile_count("u1") == 6  # batch 2 counted on batch 1 (cache), not on Redis
    scores = pipeline.read("fraud-scores")
    assert sorted(s["transaction_id"] for s in scores) == sorted(f"tx-{n}" for n in range(6))


def test_an_aborted_transaction_is_retried_without_duplicates(pipeline: Pipeline) -> None:
    for n in range(5):
        pipeline.send(tx(n, minutes=n))
    worker = pipeline.worker()
    producer = worker.loop.publisher.producer
    real = producer.commit_transaction
    calls = {"n": 0}

    def flaky(timeout_s: float = 30.0) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise TransactionAborted("broker said no")
        real(timeout_s)

    producer.commit_transaction = flaky
    deadline = time.monotonic() + 10
    while pipeline.profile_count("u1") < 5 and time.monotonic() < deadline:
        worker.poll()
    assert worker.loop.stats.aborted == 1
    assert pipeline.profile_count("u1") == 5
    assert sorted(s["transaction_id"] for s in pipeline.read("fraud-scores")) == [
        f"tx-{n}" for n in range(5)
    ]


def test_offsets_reset_below_the_watermark_do_not_count_twice(pipeline: Pipeline) -> None:
    for n in range(6):
        pipeline.send(tx(n, minutes=n))
    worker = pipeline.worker()
    pipeline.drain(worker, 6)
    worker.close()
    group = pipeline.settings.detector.group_id
    tp = TopicPartition(
        "transactions", next(iter(pipeline.backends.broker.admin().group_offsets(group))).partition
    )
    pipeline.backends.broker.cluster.group(group).committed[tp] = 0  # an operator rewinds
    again = pipeline.worker()
    pipeline.drain(again, 6)
    assert pipeline.profile_count("u1") == 6  # replayed, scored again, not counted again
    assert len(pipeline.read("fraud-scores")) == 12


def test_a_swapped_model_scores_the_next_batch(pipeline: Pipeline) -> None:
    from tests.unit.test_model_store import tiny_model

    models = ModelSource(None)
    worker = pipeline.worker(models)
    pipeline.send(tx(1))
    pipeline.drain(worker, 1)
    models.swap(tiny_model())
    pipeline.send(tx(2, minutes=1))
    pipeline.drain(worker, 2)
    versions = [s["model_version"] for s in pipeline.read("fraud-scores")]
    assert versions == [None, tiny_model().version]


def _lose_the_last_writes(pipeline: Pipeline) -> DetectorWorker:
    """A worker decides tx-0..6 of u1; then Redis comes back from an AOF that missed the last
    second: the state (and watermark) after tx-3 returns."""
    store = pipeline.backends.state
    for n in range(4):
        pipeline.send(tx(n, minutes=n))
    worker = pipeline.worker()
    pipeline.drain(worker, 4)
    [(field, _)] = store.execute(
        Batch().hgetall(keys.PIPELINE, "wm:fraud-detection-group:transactions")
    )[0].items()
    seen = keys.seen_transactions("fraud-detection-group", "transactions", int(field))
    snapshot = store.execute(
        Batch()
        .get(keys.PROFILES, keys.user_profile("u1"))
        .hgetall(keys.PIPELINE, "wm:fraud-detection-group:transactions")
        .lrange(keys.PIPELINE, seen, 0, -1)
    )
    for n in range(4, 7):
        pipeline.send(tx(n, minutes=n))
    pipeline.drain(worker, 7)
    assert pipeline.profile_count("u1") == 7
    [(field, watermark)] = snapshot[1].items()
    store.execute(
        Batch()
        .set(keys.PROFILES, keys.user_profile("u1"), snapshot[0])
        .hset(keys.PIPELINE, "wm:fraud-detection-group:transactions", {field: watermark})
        .delete(keys.PIPELINE, seen)
        .lpush(keys.PIPELINE, seen, *reversed(snapshot[2]))
    )
    return worker


def test_redis_losing_its_last_writes_is_detected_and_rebuilt(pipeline: Pipeline) -> None:
    worker = _lose_the_last_writes(pipeline)
    for n in range(7, 9):
        pipeline.send(tx(n, minutes=n))
    pipeline.drain(worker, 9)
    assert worker.loop.stats.divergences == 1
    assert pipeline.profile_count("u1") == 9
    assert len(pipeline.read("fraud-scores")) == 9


def test_a_batch_handled_while_a_lost_write_was_in_flight_is_reapplied(
    pipeline: Pipeline,
) -> None:
    worker = _lose_the_last_writes(pipeline)
    # u1 is no longer in the worker's cache either: the next batch builds u1 on Redis's stale
    # profile (count 4) and its write diverges ...
    worker.state.forget_users(["u1"])
    for n in range(7, 9):
        pipeline.send(tx(n, minutes=n))
    worker.poll()
    # ... while the batch after it is handled from that batch's (stale) cache entries
    for n in range(9, 11):
        pipeline.send(tx(n, minutes=n))
    worker.poll()
    worker.loop.settle()
    assert worker.loop.stats.divergences == 1
    assert pipeline.profile_count("u1") == 11  # rebuilt, then the later batch re-applied on it
    ids = [s["transaction_id"] for s in pipeline.read("fraud-scores")]
    assert sorted(ids) == sorted(f"tx-{n}" for n in range(11))


def test_a_small_user_cache_keeps_every_user_of_the_batch_in_flight() -> None:
    settings = load_settings("test", environ={"SENTINEL_DETECTOR_USER_CACHE_SIZE": "1"})
    pipeline = Pipeline(settings)
    worker = pipeline.worker()
    users = [f"user-{n}" for n in range(8)]  # spread over several partitions
    for round_ in range(3):
        for n, user in enumerate(users):
            pipeline.send(tx(round_ * 100 + n, user, minutes=round_), key=user)
        worker.poll()  # one batch a round; each round's write overlaps the next round
    worker.loop.settle()
    assert worker.loop.stats.records == 24
    assert [pipeline.profile_count(u) for u in users] == [3] * 8


def test_a_commit_whose_reply_was_lost_is_not_processed_twice(pipeline: Pipeline) -> None:
    for n in range(5):
        pipeline.send(tx(n, minutes=n))
    worker = pipeline.worker()
    producer = worker.loop.publisher.producer
    real = producer.commit_transaction
    calls = {"n": 0}

    def lost_reply(timeout_s: float = 30.0) -> None:
        real(timeout_s)  # the broker committed ...
        calls["n"] += 1
        if calls["n"] == 1:  # ... but the acknowledgement never came back
            from stream_sentinel.errors import TransportError

            raise TransportError("commit_transaction: Local: Timed out")

    producer.commit_transaction = lost_reply
    pipeline.drain(worker, 5)
    assert worker.loop.stats.aborted == 0
    assert pipeline.profile_count("u1") == 5
    assert sorted(s["transaction_id"] for s in pipeline.read("fraud-scores")) == [
        f"tx-{n}" for n in range(5)
    ]


def test_at_least_once_never_commits_past_an_undelivered_output() -> None:
    settings = load_settings("test", environ={"SENTINEL_DETECTOR_GUARANTEE": "at-least-once"})
    pipeline = Pipeline(settings)
    for n in range(4):
        pipeline.send(tx(n, minutes=n))
    worker = pipeline.worker()
    producer = worker.loop.publisher.producer
    failures = iter([0, 2])  # the first batch: two outputs failed delivery

    producer.delivery_failures = lambda: next(failures, 2)
    deadline = time.monotonic() + 10
    while pipeline.profile_count("u1") < 4 and time.monotonic() < deadline:
        worker.poll()
    assert worker.loop.stats.aborted == 1  # the batch was re-read, not committed
    assert pipeline.profile_count("u1") == 4  # and its state applied once
    ids = Counter(s["transaction_id"] for s in pipeline.read("fraud-scores"))
    assert set(ids) == {f"tx-{n}" for n in range(4)} and set(ids.values()) == {2}


def test_a_batch_of_only_bad_records_is_counted(pipeline: Pipeline) -> None:
    pipeline.send(b"junk")
    worker = pipeline.worker()
    pipeline.drain(worker, 1)
    summary = worker.summary()
    assert (summary["records"], summary["dead_letters"], summary["decisions"]) == (
        1,
        {"bad_magic": 1},
        {},
    )


def test_a_huge_rejected_value_is_kept_truncated_in_its_dead_letter() -> None:
    from stream_sentinel.stream.deadletters import LetterBudget, build_letter
    from stream_sentinel.transport.memory_log import MemoryRecord

    record = MemoryRecord("transactions", 3, 42, b"k", b"x" * 900_000, 1, None)
    key, letter = build_letter(
        record,
        "payload_too_large",
        "payload of 900000 bytes exceeds the limit",
        1,
        "detector",
        LetterBudget(),
    )
    assert (key, letter["key"], letter["key_size"]) == (b"k", b"k", None)
    assert (letter["value"], letter["value_size"]) == (b"x" * 262_144, 900_000)
    assert letter["reason"] == (
        "payload of 900000 bytes exceeds the limit "
        "(value truncated to its first 262,144 of 900,000 bytes)"
    )


def test_merchant_day_counters_older_than_the_windows_are_removed(pipeline: Pipeline) -> None:
    from stream_sentinel.logic.merchants import parse_counters
    from stream_sentinel.logic.profile import DAY_MS

    today = tx(1)["timestamp"] // DAY_MS  # the transactions' event day
    pipeline.backends.state.execute(
        Batch().hset(
            keys.PIPELINE, keys.merchant("m1"), {f"n:{today - 40}": 5, f"n:{today - 3}": 2}
        )
    )
    pipeline.send(tx(1))
    worker = pipeline.worker()
    pipeline.drain(worker, 1)  # reads the merchant, then writes a new volume
    pipeline.send(tx(2, minutes=1))
    pipeline.drain(worker, 2)  # the first write of this merchant by this worker tidies it
    [fields] = pipeline.backends.state.execute(Batch().hgetall(keys.PIPELINE, keys.merchant("m1")))
    assert parse_counters(fields)["n"] == {today - 3: 2.0, today: 2.0}


def test_a_version_1_profile_in_the_store_is_read_counted_and_written_back_as_version_2(
    pipeline: Pipeline,
) -> None:
    from tests.unit.test_profile_migration import v1_profile

    old = v1_profile()
    old["last_ts"] = NOW - 2 * 3_600_000  # seen two hours before the payment below
    pipeline.backends.state.execute(
        Batch().set(keys.PROFILES, keys.user_profile("u1"), old.tobytes())
    )
    pipeline.send(tx(1))
    worker = pipeline.worker()
    pipeline.drain(worker, 1)
    [blob] = pipeline.backends.state.execute(Batch().get(keys.PROFILES, keys.user_profile("u1")))
    assert (len(blob), blob[0]) == (250, 2)  # upgraded in place by the batch's write
    assert pipeline.profile_count("u1") == 10  # nine before the upgrade, one now
    [logged] = pipeline.read("decision-features")
    assert logged["features"][COLUMN["history_count"]] == 9.0
    assert logged["features"][COLUMN["count_7d"]] == 9.0  # the 7-day ring survived
