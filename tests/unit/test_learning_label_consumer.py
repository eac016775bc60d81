"""fraud-feedback into the feedback store through the shared stream loop, on the embedded broker."""

from __future__ import annotations

import pytest

from stream_sentinel.clients.backends import embedded_backends
from stream_sentinel.clock import SYSTEM_CLOCK, ManualClock
from stream_sentinel.learning.feedback_stats import read_stats
from stream_sentinel.learning.label_consumer import GROUP_ID, LabelHandler, label_loop, run_until
from stream_sentinel.registry_server.local_client import LocalRegistryClient
from stream_sentinel.stream.loop import StreamLoop
from stream_sentinel.transport.topics import Topics
from stream_sentinel.wire.serde import Serde
from tests.contract.feedback_store_contract import STREAM, stats_of_stream

pytestmark = pytest.mark.unit


def drain(loop: StreamLoop, expected: int) -> None:
    for _ in range(200):  # bounded by attempts, not by time
        if loop.stats.records >= expected:
            break
        loop.poll()
    loop.settle()
    assert loop.stats.records == expected


def test_labels_on_the_topic_land_in_the_store_once_with_precedence() -> None:
    backends, topics = embedded_backends(), Topics()
    backends.broker.admin().create_topics(topics.specs())
    serde = Serde(LocalRegistryClient.in_memory())
    encode, producer = serde.encoder("fraud-feedback"), backends.broker.producer()
    for record in STREAM:
        producer.produce(topics.fraud_feedback, encode(record), b"u1")
    producer.produce(topics.fraud_feedback, b"not avro", b"u1")
    handler = LabelHandler(serde, backends.state)
    loop = label_loop(backends.broker, backends.state, handler, topics, poll_timeout_s=0.01)
    loop.start()
    drain(loop, len(STREAM) + 1)
    loop.close()
    assert (handler.labels, handler.unchanged, handler.undecodable) == (4, 1, 1)
    assert read_stats(backends.state).to_json() == stats_of_stream()
    # a second consumer of the group finds everything committed: nothing is counted twice
    again = label_loop(
        backends.broker, backends.state, LabelHandler(serde, backends.state), topics, slot=1
    )
    again.start()
    run_until(again, lambda: False, idle_s=0.0, clock=SYSTEM_CLOCK)  # one empty poll ends it
    again.close()
    assert again.stats.records == 0
    assert read_stats(backends.state).to_json() == stats_of_stream()


def test_until_idle_waits_for_the_partitions_before_it_counts_idle_time() -> None:
    backends, topics = embedded_backends(), Topics()
    backends.broker.admin().create_topics(topics.specs())
    serde = Serde(LocalRegistryClient.in_memory())
    encode, producer = serde.encoder("fraud-feedback"), backends.broker.producer()
    for record in STREAM:
        producer.produce(topics.fraud_feedback, encode(record), b"u1")
    # another member joins first and never polls: the group's rebalance waits for it
    other = backends.broker.consumer(GROUP_ID)
    other.subscribe([topics.fraud_feedback])
    handler = LabelHandler(serde, backends.state)
    loop = label_loop(backends.broker, backends.state, handler, topics, poll_timeout_s=0.01)
    loop.start()
    checks: list[int] = []

    def stopped() -> bool:  # the other member leaves after three polls with nothing assigned
        assert loop.consumer is not None
        checks.append(len(loop.consumer.assignment()))
        if len(checks) == 3:
            other.close()
        return False

    run_until(loop, stopped, idle_s=0.0, clock=ManualClock())  # its time never passes the grace
    loop.close()
    assert checks[:3] == [0, 0, 0] and loop.stats.records == len(STREAM)
    assert read_stats(backends.state).to_json() == stats_of_stream()
