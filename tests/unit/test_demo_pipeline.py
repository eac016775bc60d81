"""A short demo pipeline on the embedded backends: what the demo counts is what the topics hold."""

from __future__ import annotations

from typing import Any

import pytest

from stream_sentinel.clients.backends import embedded_backends
from stream_sentinel.config import load_settings
from stream_sentinel.demo.options import DemoOptions
from stream_sentinel.demo.pipeline import DemoPipeline
from stream_sentinel.demo.scenario import plan_scenario
from stream_sentinel.registry_server.local_client import LocalRegistryClient
from stream_sentinel.transport.base import Broker, TopicPartition
from stream_sentinel.transport.topics import Topics
from stream_sentinel.wire.serde import Serde
from tests.unit.demo_support import tiny_model


def committed_count(broker: Broker, topic: str) -> int:
    partitions = broker.admin().describe_topics([topic])[topic].partitions
    reader = broker.consumer(None)
    reader.assign({TopicPartition(topic, p): 0 for p in range(partitions)})
    total = 0
    while batch := reader.consume(10_000, 0.05):
        total += len(batch)
    reader.close()
    return total


@pytest.fixture
def pipeline() -> Any:
    import time

    settings = load_settings("test", environ={})
    options = DemoOptions(duration_s=3, rate=1500, users=500, seed=5)
    scenario = plan_scenario(options, settings, int(time.time() * 1000))
    backends = embedded_backends()
    topics = Topics()
    backends.broker.admin().create_topics(topics.specs())
    serde = Serde(LocalRegistryClient.in_memory(), topics)
    demo = DemoPipeline(scenario, backends, serde, tiny_model(), rate=1500, duration_s=3, seed=5)
    yield demo
    demo.stop()


def test_every_transaction_is_decided_acted_on_and_accounted_for(pipeline: Any) -> None:
    pipeline.start(ready_timeout_s=10)
    pending = pipeline.drain(timeout_s=20)
    pipeline.stop()
    pipeline.raise_failure()
    assert pending.caught_up
    snapshot = pipeline.observer.snapshot(every_latency=True)
    assert 3000 <= snapshot.sent <= 6000  # about 3 s at 1,500/s
    assert snapshot.decided == snapshot.sent and snapshot.dead_letters == 0
    assert bool(snapshot.ledger.decided.all())
    broker = pipeline.backends.broker
    assert committed_count(broker, "fraud-scores") == snapshot.decided  # one decision each
    alerts = sum(snapshot.alerts.values())
    assert alerts > 0
    assert committed_count(broker, "fraud-alerts") == alerts
    assert pipeline.alerts.loop.stats.records == alerts
    assert sum(snapshot.decisions.values()) == snapshot.decided
    labels = sum(snapshot.labels_published.values())
    assert labels > 0 and sum(pipeline.labels_applied().values()) == labels
    assert len(snapshot.latency_ms) == snapshot.decided
    assert all(alert.level in ("MEDIUM", "HIGH", "CRITICAL") for alert in snapshot.latest)


def test_stopping_early_ends_the_generator_and_still_drains(pipeline: Any) -> None:
    pipeline.start(ready_timeout_s=10)
    pipeline.stop_generating()
    pending = pipeline.drain(timeout_s=20)
    pipeline.stop()
    assert pending.caught_up
    assert pipeline.outcome is not None and pipeline.outcome.interrupted
    assert pipeline.observer.decided == pipeline.observer.sent
