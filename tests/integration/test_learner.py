"""The learner on the real stack: `detect` logs decisions, `learn` joins them to labels, trains
and registers a challenger; a learner killed mid-run loses and doubles no label."""

from __future__ import annotations

import json
import random
import signal
import socket
import subprocess
import time
from typing import Any

import pytest

from stream_sentinel.config import Settings
from stream_sentinel.learning.registry import ModelRegistry
from stream_sentinel.logic.feature_set import LIVE, LIVE_HASH
from stream_sentinel.logic.features import FEATURES
from stream_sentinel.state import keys
from stream_sentinel.state.base import Batch
from stream_sentinel.state.redis import RedisStateStore
from stream_sentinel.transport.kafka import KafkaBroker
from stream_sentinel.transport.topics import Topics
from tests.integration.detector_support import (
    SENTINEL,
    create_topics,
    detect,
    finish,
    produce,
    serde_for,
    transactions,
    wait_until,
)
from tests.integration.stacks import cli_env

pytestmark = pytest.mark.integration
HOUR = 3_600_000
LEARNING = {
    "SENTINEL_LEARNING_LABEL_DELAY_MS": str(2 * HOUR),
    "SENTINEL_LEARNING_VALIDATION_MS": str(4 * HOUR),
    "SENTINEL_LEARNING_RETRAIN_EVERY_MS": str(30 * 24 * HOUR),
    "SENTINEL_LEARNING_PROMOTION": "never",
}


def env(settings: Settings) -> dict[str, str]:
    return cli_env(settings) | LEARNING


def learn(settings: Settings, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [SENTINEL, "learn", *args],
        env=env(settings),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def cli(settings: Settings, *args: str) -> str:
    done = subprocess.run(
        [SENTINEL, *args], env=env(settings), capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def labels_for(
    sent: list[dict[str, Any]], seed: int, label_time: int | None = None
) -> tuple[list[dict[str, Any]], set[str]]:
    """FRAUD (a chargeback 30 min later, or at ``label_time``) for the largest 3% of amounts,
    LEGIT (an analyst) for one in ten of the rest: a signal the amount feature carries."""
    cut = sorted(r["amount"] for r in sent)[int(len(sent) * 0.97)]
    rng, labels, frauds = random.Random(seed), [], set()
    for record in sent:
        fraud = record["amount"] >= cut
        if not fraud and rng.random() >= 0.1:
            continue
        frauds |= {record["transaction_id"]} if fraud else set()
        labels.append(
            {
                "transaction_id": record["transaction_id"],
                "user_id": record["user_id"],
                "merchant_id": record["merchant_id"],
                "event_time": record["timestamp"],
                "label": "FRAUD" if fraud else "LEGIT",
                "source": "CHARGEBACK" if fraud else "ANALYST",
                "confidence": 1.0,
                "pattern": None,
                "label_time": label_time or record["timestamp"] + HOUR // 2,
            }
        )
    return labels, frauds


def send(settings: Settings, logical: str, records: list[dict[str, Any]]) -> None:
    encode = serde_for(settings).encoder(logical)
    producer = KafkaBroker(settings.kafka).producer()
    topic = Topics.from_settings(settings).name(logical)
    for record in records:
        producer.produce(topic, encode(record), record["user_id"].encode())
    assert producer.flush(60) == 0


def expected(
    times: dict[str, int], labels: list[dict[str, Any]], frauds: set[str]
) -> dict[str, int]:
    now = max(times.values())
    usable = {t for t, when in times.items() if when < now - 2 * HOUR}
    known = {lab["transaction_id"] for lab in labels if lab["label_time"] <= now}
    return {
        "rows": len(usable),
        "frauds": len(usable & frauds),
        "labelled": len(usable & known),
        "pending": len(times) - len(usable),
    }


def training_set(settings: Settings) -> dict[str, int]:
    found = json.loads(cli(settings, "learn", "status", "--json"))["training_set"]
    return {k: found[k] for k in ("rows", "frauds", "labelled", "pending")}


def applied(settings: Settings, logical: str) -> int:
    """Records of a topic the learner's state has applied (the sum of its watermarks)."""
    store = RedisStateStore(settings.redis)
    topic = Topics.from_settings(settings).name(logical)
    try:
        [fields] = store.execute(
            Batch().hgetall(keys.PIPELINE, keys.watermark("learning-group", topic))
        )
    finally:
        store.close()
    return sum(int(v) for v in fields.values())


def test_detect_then_learn_registers_a_challenger_from_the_logged_decisions(
    settings: Settings,
) -> None:
    create_topics(settings)
    # the day up to 4 minutes ahead (the detector takes 5 of clock skew): labels given once the
    # decisions are made are dated after them (not leaky) and before the learner's event time
    sent = transactions(6000, users=400, seed=31, now_ms=int(time.time() * 1000) + 240_000)
    produce(settings, sent)
    finish(detect(settings, "--until-idle", "3"))
    labels, frauds = labels_for(sent, seed=31, label_time=int(time.time() * 1000))
    send(settings, "fraud-feedback", labels)
    cli(settings, "learn", "retrain-now", "--reason", "first model", "--actor", "cli:test")
    output = finish(learn(settings, "--until-idle", "2"), timeout_s=80)
    assert (
        f"rows 6,000 and labels {len(labels):,} read (0 older than the window, 0 undecodable); "
        "1 retrain(s)"
    ) in output
    times = {r["transaction_id"]: r["timestamp"] for r in sent}
    assert training_set(settings) == expected(times, labels, frauds)
    store = RedisStateStore(settings.redis)
    try:
        registry = ModelRegistry(store)
        aliases = registry.aliases()
        assert sorted(aliases) == ["challenger"]
        version = registry.get(aliases["challenger"])
        [move] = registry.history()
    finally:
        store.close()
    assert (version.created_by, version.tags["trigger"]) == (
        "learn",
        "request by cli:test: first model",
    )
    assert (move.actor, move.alias) == ("learn", "challenger")
    assert move.reason == (
        "kept as challenger: the promotion policy is 'never' "
        f"(AP {version.metrics['average_precision']:.4f}, ROC AUC {version.metrics['roc_auc']:.4f})"
    )


def feature_rows(
    count: int, seed: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], set[str]]:
    """Logged decisions over the last day and their labels, straight onto the topics."""
    rng = random.Random(seed)
    start = 1_700_000_000_000
    rows, labels, frauds = [], [], set()
    for n in range(count):
        tx, user, when = f"tx-{seed}-{n:06d}", f"u{rng.randrange(500):04d}", start + n * 1000
        fraud = rng.random() < 0.03
        vector = [rng.gauss(3.0 if fraud else 0.0, 1.0)] + [rng.random()] * (len(FEATURES) - 1)
        rows.append(
            {
                "transaction_id": tx,
                "user_id": user,
                "event_time": when,
                "decided_time": when + 3,
                "model_version": None,
                "feature_set": LIVE,
                "feature_set_hash": LIVE_HASH,
                "features": vector,
                "score": 0.0,
                "risk_level": "MINIMAL",
                "decision": "APPROVE",
                "input_partition": 0,
                "input_offset": n,
            }
        )
        if fraud or n % 10 == 0:
            frauds |= {tx} if fraud else set()
            labels.append(
                {
                    "transaction_id": tx,
                    "user_id": user,
                    "merchant_id": "m1",
                    "event_time": when,
                    "label": "FRAUD" if fraud else "LEGIT",
                    "source": "CHARGEBACK" if fraud else "ANALYST",
                    "confidence": 1.0,
                    "pattern": None,
                    "label_time": when + HOUR // 2,
                }
            )
    return rows, labels, frauds


def test_a_learner_killed_mid_run_and_restarted_loses_and_doubles_no_label(
    settings: Settings,
) -> None:
    create_topics(settings)
    rows, labels, frauds = feature_rows(40_000, seed=41)
    send(settings, "fraud-feedback", labels)
    send(settings, "decision-features", rows)
    killed = learn(settings)
    wait_until(lambda: applied(settings, "decision-features") >= 5000, 60, "the learner to start")
    killed.send_signal(signal.SIGKILL)
    killed.communicate(timeout=30)
    assert applied(settings, "decision-features") < len(rows)  # it was killed mid-run
    output = finish(learn(settings, "--until-idle", "2"), timeout_s=80)
    assert "0 retrain(s)" in output
    assert applied(settings, "decision-features") == len(rows)
    assert applied(settings, "fraud-feedback") == len(labels)
    times = {r["transaction_id"]: r["event_time"] for r in rows}
    assert training_set(settings) == expected(times, labels, frauds)


def test_learn_with_redis_down_exits_1_naming_it(settings: Settings) -> None:
    with socket.socket() as probe:  # a port nothing listens on once closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    dead = f"redis://127.0.0.1:{port}"
    done = subprocess.run(
        [SENTINEL, "learn", "--until-idle", "1"],
        env=env(settings) | {"SENTINEL_REDIS_URL": dead},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert done.stderr.startswith(f"error: cannot reach Redis at {dead} (nothing listens there)")
    assert "Traceback" not in done.stdout + done.stderr
