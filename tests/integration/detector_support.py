"""Helpers for the detector's integration tests: traffic in, decisions and state out."""

from __future__ import annotations

import math
import random
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from stream_sentinel.clients.registry import connect_registry
from stream_sentinel.config import Settings
from stream_sentinel.errors import ServiceUnavailable
from stream_sentinel.logic.profile import decode_profiles
from stream_sentinel.state import keys
from stream_sentinel.state.base import Batch
from stream_sentinel.state.redis import RedisStateStore
from stream_sentinel.transport.base import TopicPartition
from stream_sentinel.transport.kafka import KafkaBroker
from stream_sentinel.transport.topics import Topics
from stream_sentinel.wire.serde import Serde
from tests.integration.stacks import cli_env

SENTINEL = str(Path(sys.executable).with_name("stream-sentinel"))


def transactions(
    count: int, users: int, seed: int, now_ms: int | None = None
) -> list[dict[str, Any]]:
    """Deterministic traffic of the last day: steady users, and a few bursts that alert."""
    rng = random.Random(seed)
    now_ms = now_ms or int(time.time() * 1000)
    start = now_ms - 86_400_000
    records = []
    for n in range(count):
        user = f"u{rng.randrange(users):05d}"
        burst = n % 997 < 6  # six in a row for one user now and then: velocity_burst
        if burst:
            user = f"u{(n // 997) % users:05d}"
        records.append(
            {
                "transaction_id": f"tx-{seed}-{n:07d}",
                "user_id": user,
                "amount": round(rng.lognormvariate(3.0, 0.8), 2),
                "timestamp": start + int(86_400_000 * n / count),
                "channel": "POS",
                "merchant_id": f"m{rng.randrange(200):04d}",
                "device_id": f"d-{user}",
                "merchant_latitude": 52.5 + rng.random() / 10,
                "merchant_longitude": 13.4 + rng.random() / 10,
                "currency": "EUR",
                "metadata": {},
            }
        )
    return records


def serde_for(settings: Settings) -> Serde:
    return Serde.from_settings(settings, connect_registry(settings.registry))


def registry_answers(settings: Settings, record: dict[str, Any]) -> bool:
    """Whether the schema registry answers a Transaction's registration (it is back after a
    broker restart only once its own Kafka client has reconnected)."""
    try:
        serde_for(settings).encoder("transactions")(record)
    except ServiceUnavailable:
        return False
    return True


def create_topics(settings: Settings) -> None:
    KafkaBroker(settings.kafka).admin().create_topics(Topics.from_settings(settings).specs())


def produce(settings: Settings, records: Iterable[dict[str, Any] | bytes], key: str = "") -> int:
    """Send transactions (dicts are Avro-encoded; bytes go as they are)."""
    encode = serde_for(settings).encoder("transactions")
    producer = KafkaBroker(settings.kafka).producer()
    topic = Topics.from_settings(settings).transactions
    count = 0
    for record in records:
        if isinstance(record, bytes):
            producer.produce(topic, record, (key or "bad").encode())
        else:
            producer.produce(topic, encode(record), record["user_id"].encode())
        count += 1
    assert producer.flush(60) == 0
    return count


def read_all(
    settings: Settings, logical: str, expect: int | None = None, timeout_s: float = 60.0
) -> list[dict[str, Any]]:
    """Every record of a topic, read_committed, decoded (waits for ``expect`` records)."""
    broker = KafkaBroker(settings.kafka)
    topic = Topics.from_settings(settings).name(logical)
    partitions = broker.admin().describe_topics([topic])[topic].partitions
    consumer = broker.consumer(None, isolation="read_committed")
    consumer.assign({TopicPartition(topic, p): 0 for p in range(partitions)})
    decoder = serde_for(settings).decoder(logical)
    values: list[bytes] = []
    deadline = time.monotonic() + timeout_s
    quiet_since = time.monotonic()
    while time.monotonic() < deadline:
        batch = consumer.consume(5000, 0.5)
        if batch:
            values += [r.value() or b"" for r in batch]
            quiet_since = time.monotonic()
        elif (expect is None or len(values) >= expect) and time.monotonic() - quiet_since > 2.0:
            break
    consumer.close()
    return [decoder.decode(v) for v in values]


def profile_counts(settings: Settings, users: Iterable[str]) -> dict[str, int]:
    """Each user's transaction count as the detector's state holds it."""
    users = sorted(set(users))
    store = RedisStateStore(settings.redis)
    batch = Batch()
    for user in users:
        batch.get(keys.PROFILES, keys.user_profile(user))
    profiles = decode_profiles(store.execute(batch))
    store.close()
    return {user: int(p["n_total"]) for user, p in zip(users, profiles, strict=True)}


def applied_offsets(settings: Settings) -> int:
    """How many input records the detector's state has applied (sum of its watermarks)."""
    store = RedisStateStore(settings.redis.model_copy(update={"retry_attempts": 3}))
    key = keys.watermark(settings.detector.group_id, Topics.from_settings(settings).transactions)
    try:
        [fields] = store.execute(Batch().hgetall(keys.PIPELINE, key))
    finally:
        store.close()
    return sum(int(v) for v in fields.values())


def worker_is_up(settings: Settings, slot: int) -> bool:
    """Whether detector worker ``slot`` has started processing (its heartbeat is in Redis)."""
    store = RedisStateStore(settings.redis.model_copy(update={"retry_attempts": 3}))
    key = keys.worker_status(settings.detector.group_id, f"worker-{slot}")
    try:
        [beat] = store.execute(Batch().exists(keys.PIPELINE, key))
    finally:
        store.close()
    return bool(beat)


def detect(settings: Settings, *args: str) -> subprocess.Popen[str]:
    """`stream-sentinel detect ...` as a user runs it, against the stack of ``settings`` (it
    scores with the champion of the test's own model registry: none unless the test sets one)."""
    env = cli_env(settings) | {
        "SENTINEL_DETECTOR_GROUP_ID": settings.detector.group_id,
        "SENTINEL_DETECTOR_GUARANTEE": settings.detector.guarantee,
        "SENTINEL_DETECTOR_FEATURE_LOG": str(settings.detector.feature_log).lower(),
    }
    return subprocess.Popen(
        [SENTINEL, "detect", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_until(condition: Any, timeout_s: float = 90.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def assert_exactly_once(settings: Settings, sent: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every transaction decided exactly once; every user's count equals their transactions;
    alerts exactly for the decisions at or above the alert level."""
    scores = read_all(settings, "fraud-scores", expect=len(sent))
    ids = Counter(s["transaction_id"] for s in scores)
    duplicates = {k: v for k, v in ids.items() if v > 1}
    assert not duplicates, f"decided more than once: {list(duplicates)[:5]}"
    assert set(ids) == {r["transaction_id"] for r in sent}
    expected = Counter(r["user_id"] for r in sent)
    assert profile_counts(settings, expected) == dict(expected)
    alerts = read_all(settings, "fraud-alerts")
    risky = {
        s["transaction_id"] for s in scores if s["risk_level"] in ("MEDIUM", "HIGH", "CRITICAL")
    }
    assert sorted(a["transaction_id"] for a in alerts) == sorted(risky)
    assert_one_row_per_decision(settings, scores)
    return scores


#: What a feature-log row repeats from its FraudScore.
SHARED = ("user_id", "event_time", "decided_time", "model_version", "score", "decision")


def assert_one_row_per_decision(
    settings: Settings, scores: list[dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """The feature log (read_committed) holds exactly one row per decision, agreeing with its
    FraudScore; returns the rows by transaction id."""
    rows = read_all(settings, "decision-features", expect=len(scores))
    ids = Counter(row["transaction_id"] for row in rows)
    duplicates = {k: v for k, v in ids.items() if v > 1}
    assert not duplicates, f"logged more than once: {list(duplicates)[:5]}"
    by_id = {row["transaction_id"]: row for row in rows}
    assert set(by_id) == {s["transaction_id"] for s in scores}
    for score in scores:
        row = by_id[score["transaction_id"]]
        assert {k: row[k] for k in SHARED} == {k: score[k] for k in SHARED}
    return by_id


def finish(process: subprocess.Popen[str], timeout_s: float = 180.0) -> str:
    """Wait for a CLI process to exit 0; on failure or timeout, show the end of its output."""
    try:
        output, _ = process.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
        raise AssertionError(f"still running after {timeout_s:.0f} s:\n{output[-4000:]}") from None
    assert process.returncode == 0, output[-4000:]
    return output


def is_nan(value: float) -> bool:
    return isinstance(value, float) and math.isnan(value)
