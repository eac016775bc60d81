"""Reading and replaying the dead-letter topic.

Every consumer of ours sends what it cannot process to `dead-letter` with the original bytes,
where they came from and why. Operators list them (`dlq show`), fix the cause, and put them
back on their source topic (`dlq replay`), where they are validated again like new input.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from stream_sentinel.errors import TransportError
from stream_sentinel.serde import Serde
from stream_sentinel.topics import DEAD_LETTER, Topics
from stream_sentinel.transport.base import Broker, TopicPartition


@dataclass(frozen=True, slots=True)
class Letter:
    """One dead letter with its own position in the dead-letter topic."""

    partition: int
    offset: int
    record: dict[str, Any]

    def matches(self, reason: str | None, component: str | None) -> bool:
        if component and self.record["component"] != component:
            return False
        if not reason:
            return True
        needle = reason.lower()
        return (
            needle == self.record["error_type"].lower() or needle in self.record["reason"].lower()
        )


def read_letters(
    broker: Broker, serde: Serde, topics: Topics, timeout_s: float = 10.0
) -> Iterator[Letter]:
    """Every dead letter, oldest first per partition (read_committed, no consumer group)."""
    topic = topics.dead_letter
    admin = broker.admin()
    info = admin.describe_topics([topic]).get(topic)
    if info is None:
        return
    consumer = broker.consumer(None, isolation="read_committed")
    ends = {}
    starts = {}
    for partition in range(info.partitions):
        tp = TopicPartition(topic, partition)
        low, high = consumer.watermarks(tp, timeout_s)
        starts[tp], ends[tp] = low, high
    consumer.assign(starts)
    decoder = serde.decoder(DEAD_LETTER)
    deadline = time.monotonic() + timeout_s  # moves on with every record read
    try:
        while not _done(consumer, ends):
            if time.monotonic() > deadline:
                raise TransportError(
                    f"reading {topic} stalled for {timeout_s:.0f} s before its end; "
                    "is Kafka healthy? Nothing was listed or replayed past that point."
                )
            for record in consumer.consume(1000, 0.5):
                deadline = time.monotonic() + timeout_s
                decoded, failures = decoder.decode_many([record.value()])
                if not failures and decoded[0] is not None:
                    yield Letter(record.partition() or 0, record.offset() or 0, decoded[0])
    finally:
        consumer.close()


def _done(consumer: Any, ends: dict[TopicPartition, int]) -> bool:
    for tp, end in ends.items():
        position = consumer.position(tp)
        if end > 0 and (position is None or position < end):
            return False
    return True


def replay(broker: Broker, letters: list[Letter]) -> list[Letter]:
    """Put each letter's original key and value back on its source topic; returns the letters
    that could NOT be delivered (so a rerun can retry exactly those)."""
    failed: list[Letter] = []
    producer = broker.producer()

    def report(letter: Letter) -> Any:
        def delivered(error: str | None, where: object, offset: int | None) -> None:
            if error is not None:
                failed.append(letter)

        return delivered

    for letter in letters:
        record = letter.record
        producer.produce(
            record["source_topic"], record["value"], record["key"], on_delivery=report(letter)
        )
    if producer.flush(60.0):
        raise TransportError(
            "some replayed letters were neither delivered nor failed within 60 s; check the "
            "source topics before replaying again (a rerun could send those twice)"
        )
    producer.close()
    return failed
