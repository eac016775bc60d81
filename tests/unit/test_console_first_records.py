"""The oldest unread record's timestamp: read once per (partition, offset), one reader for all
partitions, and the overview's age: the sampler's newest timestamp against now."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from stream_sentinel.clients.backends import EmbeddedClients
from stream_sentinel.clock import ManualClock
from stream_sentinel.console.first_records import MAX_POLLS, FirstRecordTimes, first_records
from stream_sentinel.console.messages import BrowseQuery, MessageBrowser
from stream_sentinel.console.overview import read_overview
from stream_sentinel.console.web import Console
from stream_sentinel.transport.base import TopicPartition, TopicSpec
from stream_sentinel.transport.memory import MemoryBroker, MemoryConsumer
from stream_sentinel.wire.serde import AvroDecoder
from tests.unit.console_rig import NOW, make_console_rig

pytestmark = pytest.mark.unit

TOPIC = "dead-letter"
GROUP = "fraud-detection-group"


class SpyBroker(MemoryBroker):
    """The embedded broker, recording what each reader was assigned."""

    def __init__(self) -> None:
        super().__init__(clock=ManualClock(NOW))
        self.assigned: list[dict[TopicPartition, int]] = []
        self.options: list[dict[str, Any]] = []
        self.low = 0  # the low watermark its readers report (retention, which it lacks)

    def consumer(self, group_id: str | None, **options: Any) -> MemoryConsumer:
        self.options.append(options)
        reader = super().consumer(group_id, **options)
        assign = reader.assign

        def recording(partitions: Mapping[TopicPartition, int]) -> None:
            self.assigned.append(dict(partitions))
            assign(partitions)

        reader.assign = recording  # type: ignore[method-assign]
        watermarks = reader.watermarks

        def retained(tp: TopicPartition, timeout_s: float = 10.0, cached: bool = False) -> Any:
            low, high = watermarks(tp, timeout_s, cached)
            return max(low, self.low), high

        reader.watermarks = retained  # type: ignore[method-assign]
        return reader


def _broker_with_records() -> SpyBroker:
    """Partition 0: 200 records a second apart from NOW; partition 1: one record at NOW + 7 s."""
    broker = SpyBroker()
    broker.admin().create_topics([TopicSpec(TOPIC, 3)])
    producer = broker.producer()
    for n in range(200):
        producer.produce(TOPIC, b"{}", b"k", partition=0, timestamp_ms=NOW + n * 1000)
    producer.produce(TOPIC, b"{}", b"k", partition=1, timestamp_ms=NOW + 7000)
    assert producer.flush(5.0) == 0
    return broker


P0, P1, P2 = (TopicPartition(TOPIC, p) for p in range(3))


def test_one_reader_finds_each_partitions_first_record_however_far_behind() -> None:
    broker = _broker_with_records()
    times = FirstRecordTimes(lambda: broker)
    assert times.oldest({P0: (150, 200), P1: (0, 1)}) == {P0: NOW + 150_000, P1: NOW + 7000}
    assert (times.reads, broker.assigned) == (1, [{P0: 150, P1: 0}])


def test_the_console_s_readers_ask_for_small_fetches() -> None:
    broker = _broker_with_records()
    FirstRecordTimes(lambda: broker).oldest({P0: (0, 200)})
    MessageBrowser(broker, AvroDecoder(EmbeddedClients().registry()), 50).browse(
        TOPIC, 3, BrowseQuery()
    )
    small = {"isolation": "read_committed", "low_latency": True, "partition_fetch_bytes": 65_536}
    assert broker.options == [small, small]


def _counting(consumer: MemoryConsumer, most: int | None = None) -> list[int]:
    """Counts the reader's polls (one entry per poll: how many records it brought); ``most``
    caps what one poll brings."""
    polls: list[int] = []
    consume = consumer.consume

    def counted(max_records: int, timeout_s: float) -> list[Any]:
        batch = consume(most or max_records, timeout_s)
        polls.append(len(batch))
        return batch

    consumer.consume = counted  # type: ignore[method-assign]
    return polls


def test_a_found_partition_stops_delivering_while_another_is_still_pending() -> None:
    # P1 has no record in its range yet (in Kafka: an open transaction holds a read_committed
    # reader below the high watermark lag is counted to); P0, 20 000 records long, is found at
    # once and sought to its high watermark, so it brings nothing more
    broker = SpyBroker()
    broker.admin().create_topics([TopicSpec(TOPIC, 2)])
    producer = broker.producer()
    for n in range(20_000):
        producer.produce(TOPIC, b"{}", b"k", partition=0, timestamp_ms=NOW + n)
    assert producer.flush(5.0) == 0
    consumer = broker.consumer(None, low_latency=True)
    polls = _counting(consumer)
    assert first_records(consumer, {P0: (0, 16), P1: (0, 16)}) == {P0: NOW}
    assert polls == [16, 0, 0, 0]  # the first poll finds P0, then three empty ones end it


def test_a_read_is_bounded_however_many_partitions_wait() -> None:
    broker = SpyBroker()
    broker.admin().create_topics([TopicSpec(TOPIC, 60)])
    producer = broker.producer()
    for p in range(60):
        producer.produce(TOPIC, b"{}", b"k", partition=p, timestamp_ms=NOW + p)
    assert producer.flush(5.0) == 0
    consumer = broker.consumer(None, low_latency=True)
    polls = _counting(consumer, most=1)  # each poll brings one partition's record
    found = first_records(consumer, {TopicPartition(TOPIC, p): (0, 1) for p in range(60)})
    assert (len(found), len(polls)) == (MAX_POLLS, MAX_POLLS)


def test_a_span_is_read_once_and_only_a_moved_start_is_read_again() -> None:
    broker = _broker_with_records()
    times = FirstRecordTimes(lambda: broker)
    times.oldest({P0: (0, 200), P1: (0, 1)})
    assert times.oldest({P0: (0, 200), P1: (0, 1)}) == {P0: NOW, P1: NOW + 7000}
    assert times.reads == 1
    assert times.oldest({P0: (42, 200), P1: (0, 1)}) == {P0: NOW + 42_000, P1: NOW + 7000}
    assert (times.reads, broker.assigned[-1]) == (2, {P0: 42})


def test_a_span_without_records_is_absent_and_not_kept() -> None:
    broker = _broker_with_records()
    times = FirstRecordTimes(lambda: broker)
    assert times.oldest({P2: (0, 5)}) == {}
    assert times.oldest({P2: (0, 5)}) == {}
    assert times.reads == 2  # nothing found is nothing known: asked again, read again


def test_the_kept_timestamps_are_forgotten_when_full() -> None:
    broker = _broker_with_records()
    times = FirstRecordTimes(lambda: broker, kept=2)
    times.oldest({P0: (0, 200), P1: (0, 1)})
    times.oldest({P0: (5, 200)})  # a third one: all are forgotten, the new one kept
    times.oldest({P0: (0, 200), P1: (0, 1)})
    assert (times.reads, broker.assigned[-1]) == (3, {P0: 0, P1: 0})


def test_timestamps_below_the_low_watermark_are_forgotten() -> None:
    broker = _broker_with_records()
    times = FirstRecordTimes(lambda: broker)
    times.oldest({P0: (0, 200)})
    times.oldest({P0: (42, 200)})
    times.oldest({P0: (0, 200)})
    assert times.reads == 2  # both kept
    broker.low = 100  # retention deleted offsets 0 to 99
    times.oldest({P0: (150, 200)})  # a read, which sees the low watermark
    times.oldest({P0: (42, 200)})
    assert (times.reads, broker.assigned[-1]) == (4, {P0: 42})  # forgotten: read again


def test_a_partition_whose_topic_was_created_again_is_forgotten() -> None:
    broker = _broker_with_records()
    times = FirstRecordTimes(lambda: broker)
    assert times.oldest({P0: (150, 200), P1: (0, 1)}) == {P0: NOW + 150_000, P1: NOW + 7000}
    broker.admin().delete_topics([TOPIC])
    broker.admin().create_topics([TopicSpec(TOPIC, 3)])
    producer = broker.producer()
    for n in range(200):  # the new topic's records, an hour later
        producer.produce(TOPIC, b"{}", b"k", partition=0, timestamp_ms=NOW + 3_600_000 + n)
        if n == 19:
            assert producer.flush(5.0) == 0
            # its high watermark (20) is below the kept offset 150: all of P0 is forgotten
            assert times.oldest({P0: (5, 20)}) == {P0: NOW + 3_600_005}
    assert producer.flush(5.0) == 0
    assert times.oldest({P0: (150, 200)}) == {P0: NOW + 3_600_150}
    assert (times.reads, broker.assigned[-1]) == (3, {P0: 150})


def test_the_overview_s_age_is_the_newest_sample_s_timestamp_against_now() -> None:
    rig = make_console_rig()
    with rig.client() as client:
        parts = client.app.state.console
        parts.sampler.sample()  # at NOW, the seeded records' time: the detector's age is 0
        reads = parts.sources.first_records.reads
        rig.clock.advance(9.0)  # within two intervals (5 s): the sample's timestamp is used
        ages = {g["group"]: g["oldest_unread_seconds"] for g in _groups(parts)}
        assert (ages[GROUP], ages["alert-response-group"]) == (9.0, 0.0)
        assert parts.sources.first_records.reads == reads
        rig.clock.advance(81.0)
        parts.sampler.sample()  # its committed offsets have not moved: nothing is read again
        ages = {g["group"]: g["oldest_unread_seconds"] for g in _groups(parts)}
        assert (ages[GROUP], parts.sources.first_records.reads) == (90.0, reads)


def test_the_overview_s_age_grows_while_sampling_fails() -> None:
    rig = make_console_rig()
    with rig.client() as client:
        parts = client.app.state.console
        parts.sampler.sample()
        reads = parts.sources.first_records.reads
        rig.clock.advance(600.0)  # no sample since (each one failed): the sample is too old
        ages = {g["group"]: g["oldest_unread_seconds"] for g in _groups(parts)}
    assert ages[GROUP] == 600.0
    assert parts.sources.first_records.reads == reads  # read again, from the kept timestamps


def test_a_group_lagging_now_but_not_at_the_sample_shows_its_record_s_age() -> None:
    rig = make_console_rig()
    with rig.client() as client:
        parts = client.app.state.console
        parts.sampler.sample()  # the alert processor lags on nothing then
        producer = rig.clients.broker().producer()
        producer.produce(parts.sources.topics.fraud_alerts, b"{}", b"k", timestamp_ms=NOW)
        assert producer.flush(5.0) == 0
        rig.clock.advance(3.0)
        groups = {g["group"]: g for g in _groups(parts)}
    lagging = groups["alert-response-group"]
    assert (lagging["lag"], lagging["oldest_unread_seconds"]) == (1, 3.0)


def _groups(parts: Console) -> list[dict[str, Any]]:
    return read_overview(parts.sampler, parts.browser).groups
