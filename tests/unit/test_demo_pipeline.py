"""A short demo pipeline on the embedded backends: what the demo counts is what the topics hold.

The components run on the test's thread, one step at a time, on a manual clock: the generator
publishes the whole simulated period first (rate 0: as fast as it can, so no wall-clock pacing),
then the detector and the alert processor step until nothing is pending. Every figure is a
count, the same on every run and every machine. The threads, the pacing and the drain's timeout
run in the e2e demo (``tests/e2e/test_demo.py``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from stream_sentinel.clients.backends import embedded_backends
from stream_sentinel.clock import ManualClock
from stream_sentinel.config import load_settings
from stream_sentinel.demo.options import DemoOptions
from stream_sentinel.demo.pipeline import DemoPipeline, Progress
from stream_sentinel.demo.scenario import plan_scenario
from stream_sentinel.generator.run import MAX_BATCH
from stream_sentinel.registry_server.local_client import LocalRegistryClient
from stream_sentinel.transport.base import Broker, TopicPartition
from stream_sentinel.transport.topics import Topics
from stream_sentinel.wire.serde import Serde
from tests.unit.demo_support import NOW, tiny_model

pytestmark = pytest.mark.unit

#: Steps the detector and alert processor get to catch up: far more than a few thousand
#: transactions need, so running out means the pipeline is stuck (not slow).
MAX_STEPS = 1_000


def committed_count(broker: Broker, topic: str) -> int:
    partitions = broker.admin().describe_topics([topic])[topic].partitions
    reader = broker.consumer(None)
    reader.assign({TopicPartition(topic, p): 0 for p in range(partitions)})
    total = 0
    while batch := reader.consume(10_000, 0.0):
        total += len(batch)
    reader.close()
    return total


def demo_pipeline(duration_s: float) -> DemoPipeline:
    clock = ManualClock(NOW)
    settings = load_settings("test", environ={})
    options = DemoOptions(duration_s=duration_s, rate=1500, users=500, seed=5)
    scenario = plan_scenario(options, settings, NOW)
    backends = embedded_backends(clock)
    topics = Topics()
    backends.broker.admin().create_topics(topics.specs())
    serde = Serde(LocalRegistryClient.in_memory(), topics)
    return DemoPipeline(
        scenario, backends, serde, tiny_model(), rate=0, duration_s=duration_s, seed=5, clock=clock
    )


def catch_up(pipeline: DemoPipeline) -> Progress:
    """Step the detector (with its label feedback) and the alert processor until nothing is
    pending; returns what still is after ``MAX_STEPS``."""
    progress = pipeline.progress()
    for _ in range(MAX_STEPS):
        if progress.caught_up:
            break
        pipeline.detector.step()
        pipeline.alerts.poll()
        progress = pipeline.progress()
    return progress


@contextmanager
def running(duration_s: float) -> Iterator[DemoPipeline]:
    """A demo pipeline whose detector and alert processor have started (closed afterwards)."""
    demo = demo_pipeline(duration_s)
    demo.detector.start()
    demo.alerts.start()
    try:
        yield demo
    finally:
        demo.detector.close()
        demo.alerts.close()


@pytest.fixture
def pipeline() -> Iterator[DemoPipeline]:
    with running(duration_s=3) as demo:
        yield demo


def test_every_transaction_is_decided_acted_on_and_accounted_for(pipeline: DemoPipeline) -> None:
    outcome = pipeline.feed.run()
    assert (outcome.stop_reason, outcome.interrupted) == (
        "reached the end of the simulated period",
        False,
    )
    assert catch_up(pipeline) == Progress(undecided=0, alerts_pending=0, labels_pending=0)
    snapshot = pipeline.observer.snapshot(every_latency=True)
    broker = pipeline.backends.broker
    # the period planned for 3 s at 1,500/s, with its margin
    assert snapshot.sent == outcome.sent == committed_count(broker, "transactions") > 4_500
    assert snapshot.decided == snapshot.sent and snapshot.dead_letters == 0
    assert bool(snapshot.ledger.decided.all())
    assert committed_count(broker, "fraud-scores") == snapshot.decided  # one decision each
    alerts = sum(snapshot.alerts.values())
    assert alerts > 0
    assert committed_count(broker, "fraud-alerts") == alerts
    assert pipeline.alerts.loop.stats.records == alerts
    assert sum(snapshot.decisions.values()) == snapshot.decided
    labels = sum(snapshot.labels_published.values())
    assert labels == outcome.labels_sent == committed_count(broker, "fraud-feedback") > 0
    assert sum(pipeline.labels_applied().values()) == labels
    assert len(snapshot.latency_ms) == snapshot.decided
    assert {alert.level for alert in snapshot.latest} <= {"MEDIUM", "HIGH", "CRITICAL"}
    assert snapshot.latest  # the panel has alerts to show


def test_stopping_early_ends_the_generator_after_its_batch_and_still_drains() -> None:
    with running(duration_s=15) as demo:  # a period of more than one batch
        demo.stop_generating()  # as Ctrl-C during the first batch
        outcome = demo.feed.run()
        assert (outcome.stop_reason, outcome.interrupted) == ("interrupted (Ctrl-C)", True)
        assert demo.observer.sent == outcome.sent == MAX_BATCH  # the batch in hand, no more
        assert not demo.simulator.finished  # the rest of the period was never generated
        assert catch_up(demo).caught_up
        assert demo.observer.decided == demo.observer.sent
