"""The detector on real Kafka, Redis and the registry, driven through `stream-sentinel detect`."""

from __future__ import annotations

import math
import signal
from collections import Counter
from pathlib import Path

from stream_sentinel.config import Settings
from stream_sentinel.state import keys
from stream_sentinel.state.base import Batch
from stream_sentinel.state.redis import RedisStateStore
from stream_sentinel.wire.serde import frame
from tests.integration.detector_support import (
    applied_offsets,
    assert_exactly_once,
    create_topics,
    detect,
    finish,
    produce,
    profile_counts,
    read_all,
    serde_for,
    transactions,
    wait_until,
    worker_is_up,
)


def test_every_transaction_is_decided_once_and_bad_records_are_dead_lettered(
    settings: Settings, tmp_path: Path
) -> None:
    create_topics(settings)
    sent = transactions(3000, users=300, seed=1)
    produce(settings, sent)
    good = sent[0]
    encode = serde_for(settings).encoder("transactions")
    bad = [
        b"definitely not avro",
        frame(987_654, b"\x02x"),
        encode({**good, "transaction_id": "bad-nan", "amount": math.nan}),
        encode({**good, "transaction_id": "bad-neg", "amount": -3.0}),
        encode({**good, "transaction_id": "bad-future", "timestamp": good["timestamp"] + 10**10}),
        b"\x00" + b"\x01" * 70_000,
    ]
    produce(settings, bad, key="u00001")
    output = finish(detect(settings, "--until-idle", "3"))
    assert "3,006" in output  # the summary counts every input record
    scores = assert_exactly_once(settings, sent)
    assert Counter(s["decision"] for s in scores)["REVIEW"] > 0  # the bursts were caught
    letters = read_all(settings, "dead-letter", expect=len(bad))
    assert Counter(d["error_type"] for d in letters) == {
        "bad_magic": 1,
        "unknown_schema_id": 1,
        "invalid_amount": 2,
        "future_timestamp": 1,
        "payload_too_large": 1,
    }
    assert {d["value"] for d in letters} == set(bad)


def test_a_blocked_user_is_declined_with_user_blocked(settings: Settings, tmp_path: Path) -> None:
    create_topics(settings)
    sent = transactions(200, users=20, seed=4)
    blocked = sent[-1]["user_id"]
    store = RedisStateStore(settings.redis)
    expiry = sent[-1]["timestamp"] + 86_400_000 * 365
    store.execute(Batch().zadd(keys.PIPELINE, keys.BLOCKED, {blocked: expiry}))
    store.close()
    produce(settings, sent)
    finish(detect(settings, "--until-idle", "3"))
    scores = assert_exactly_once(settings, sent)
    theirs = [s for s in scores if s["user_id"] == blocked]
    assert theirs and all(s["decision"] == "DECLINE" for s in theirs)
    assert all(s["reasons"][0] == "user_blocked" for s in theirs)
    assert all(s["decision"] != "DECLINE" for s in scores if s["user_id"] != blocked)


def test_kill_9_mid_stream_then_restart_loses_and_doubles_nothing(
    settings: Settings, tmp_path: Path
) -> None:
    create_topics(settings)
    sent = transactions(30_000, users=2000, seed=2)
    produce(settings, sent)
    first = detect(settings)
    wait_until(lambda: applied_offsets(settings) > 4000, what="the detector to make progress")
    first.kill()  # SIGKILL: no flush, no commit, no goodbye
    first.wait()
    assert applied_offsets(settings) < len(sent)
    finish(detect(settings, "--until-idle", "3"))
    assert_exactly_once(settings, sent)


def test_a_worker_joining_and_leaving_mid_stream_loses_and_doubles_nothing(
    settings: Settings, tmp_path: Path
) -> None:
    create_topics(settings)
    sent = transactions(60_000, users=3000, seed=3)
    produce(settings, sent[:20_000])
    steady = detect(settings, "--slot", "0", "--until-idle", "4")
    wait_until(lambda: applied_offsets(settings) > 2000, what="the first worker to progress")
    joiner = detect(settings, "--slot", "1")
    wait_until(lambda: worker_is_up(settings, 1), what="the second worker to join")
    produce(settings, sent[20_000:40_000])  # work for both of them
    wait_until(lambda: applied_offsets(settings) > 30_000, what="two workers to progress")
    produce(settings, sent[40_000:])
    joiner.send_signal(signal.SIGTERM)  # leaves the group cleanly, mid-stream
    output = finish(joiner)
    assert "detector summary" in output
    finish(steady)
    assert_exactly_once(settings, sent)


def test_at_least_once_may_repeat_outputs_but_never_double_counts_state(
    settings: Settings, tmp_path: Path
) -> None:
    alo = settings.with_overrides(detector={"guarantee": "at-least-once"})
    create_topics(alo)
    sent = transactions(30_000, users=2000, seed=8)
    produce(alo, sent)
    first = detect(alo)
    wait_until(lambda: applied_offsets(alo) > 4000, what="the detector to make progress")
    first.kill()
    first.wait()
    output = finish(detect(alo, "--until-idle", "3"))
    assert "at-least-once" in output
    scores = read_all(alo, "fraud-scores", expect=len(sent))
    assert {s["transaction_id"] for s in scores} == {r["transaction_id"] for r in sent}
    expected = Counter(r["user_id"] for r in sent)
    assert profile_counts(alo, expected) == dict(expected)
