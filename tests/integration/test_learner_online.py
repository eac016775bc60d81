"""The online model on the real stack: `learn` with SENTINEL_LEARNING_LEARNER=online learns the
logged decisions' labels and registers a river-logreg version; a detector serves it as champion
and every FraudScore names it."""

from __future__ import annotations

import json
import subprocess
import time

import pytest

from stream_sentinel.config import Settings
from stream_sentinel.learning.registry import ModelRegistry
from stream_sentinel.state.base import Batch, Namespace
from stream_sentinel.state.redis import RedisStateStore
from tests.integration.detector_support import (
    SENTINEL,
    create_topics,
    detect,
    finish,
    produce,
    read_all,
    transactions,
)
from tests.integration.test_learner import cli, env, labels_for, send

pytestmark = pytest.mark.integration


def learn_online(settings: Settings, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [SENTINEL, "learn", *args],
        env=env(settings) | {"SENTINEL_LEARNING_LEARNER": "online"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_learn_online_registers_a_river_version_that_a_detector_serves(
    settings: Settings,
) -> None:
    create_topics(settings)
    sent = transactions(6000, users=400, seed=41, now_ms=int(time.time() * 1000) + 240_000)
    produce(settings, sent)
    finish(detect(settings, "--until-idle", "3"))
    labels, _ = labels_for(sent, seed=41, label_time=int(time.time() * 1000))
    send(settings, "fraud-feedback", labels)
    cli(settings, "learn", "retrain-now", "--reason", "online", "--actor", "cli:test")
    output = finish(learn_online(settings, "--until-idle", "2"), timeout_s=80)
    assert "1 retrain(s)" in output
    store = RedisStateStore(settings.redis)
    try:
        registry = ModelRegistry(store)
        version = registry.get(registry.aliases()["challenger"])
        [online] = store.execute(Batch().hgetall(Namespace.FEEDBACK, "learn:online"))
    finally:
        store.close()
    assert (version.kind, version.artifact.format) == ("river-logreg", "river-logreg-json")
    learned = json.loads(online["learned"])
    assert json.loads(online["model"])["learned"] == learned["rows"] > 0
    assert version.window.rows == learned["rows"]
    shown = json.loads(cli(settings, "models", "show", version.version, "--json"))
    assert shown["kind"] == "river-logreg"
    cli(settings, "models", "promote", version.version, "--reason", "online", "--actor", "test")
    later = transactions(300, users=50, seed=42, now_ms=int(time.time() * 1000) + 480_000)
    produce(settings, later)
    finish(detect(settings, "--until-idle", "3"))
    scored = read_all(settings, "fraud-scores", expect=len(sent) + len(later))
    ids = {r["transaction_id"] for r in later}
    served = [s["model_version"] for s in scored if s["transaction_id"] in ids]
    assert served == [version.version] * len(later)
