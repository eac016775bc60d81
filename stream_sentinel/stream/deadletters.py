"""Dead letters: building them so they always fit, reading the topic, replaying them.

Every consumer of ours sends what it cannot process to `dead-letter` with the original bytes,
where they came from and why. Operators list them (`dlq show`), fix the cause, and put them
back on their source topic (`dlq replay`), where they are validated again like new input.

A hostile record must never make its own dead letter unpublishable (a 600 KB key, a value at the
broker's limit): :func:`build_letter` keeps every field within a :class:`LetterBudget` derived
from the dead-letter topic's ``max.message.bytes``, truncating what does not fit and recording
the original size (``key_size`` / ``value_size``); a truncated letter is never replayed.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from stream_sentinel.errors import ConfigError, TransportError
from stream_sentinel.transport.base import Admin, Broker, Record, TopicPartition
from stream_sentinel.transport.topics import DEAD_LETTER, Topics
from stream_sentinel.wire.serde import Serde

#: Kafka's default max.message.bytes (a topic that does not say uses the broker's, this one).
KAFKA_MAX_MESSAGE_BYTES = 1_048_588
#: librdkafka's default message.max.bytes: the producer refuses more, whatever the topic allows.
PRODUCER_MAX_MESSAGE_BYTES = 1_000_000
MAX_KEPT_KEY_BYTES = 1024
MAX_KEPT_VALUE_BYTES = 256 * 1024
MAX_REASON_CHARS = 1000
#: The letter's other fields, the record's own Kafka key, and Kafka's record and batch headers.
_ENVELOPE_BYTES = 4096
#: The smallest topic limit a useful letter fits in (reason, key and some of the value).
MIN_LETTER_BYTES = 16 * 1024


@dataclass(frozen=True, slots=True)
class LetterBudget:
    """How many bytes of a rejected record's key and value one dead letter may keep."""

    max_message_bytes: int = KAFKA_MAX_MESSAGE_BYTES

    def __post_init__(self) -> None:
        if self.max_message_bytes < MIN_LETTER_BYTES:
            raise ConfigError(
                f"the dead-letter topic's max.message.bytes is {self.max_message_bytes:,}; a dead "
                f"letter needs at least {MIN_LETTER_BYTES:,}: raise it (kafka-configs --alter "
                f"--add-config max.message.bytes={KAFKA_MAX_MESSAGE_BYTES})"
            )

    @classmethod
    def of_topic(cls, admin: Admin, topic: str) -> LetterBudget:
        """The budget of ``topic`` as the broker describes it (Kafka's default if it is silent)."""
        info = admin.describe_topics([topic]).get(topic)
        limit = info.config.get("max.message.bytes") if info is not None else None
        return cls(int(limit) if limit else KAFKA_MAX_MESSAGE_BYTES)

    @property
    def key_bytes(self) -> int:
        return MAX_KEPT_KEY_BYTES

    @property
    def value_bytes(self) -> int:
        # the key is carried twice (the letter's field and its Kafka key); a reason char <= 4 B
        limit = min(self.max_message_bytes, PRODUCER_MAX_MESSAGE_BYTES)
        room = limit - 2 * MAX_KEPT_KEY_BYTES - 4 * MAX_REASON_CHARS - _ENVELOPE_BYTES
        return min(MAX_KEPT_VALUE_BYTES, room)


def letter_budget(broker: Broker, topics: Topics) -> LetterBudget:
    """The budget of this deployment's dead-letter topic (one admin call)."""
    admin = broker.admin()
    try:
        return LetterBudget.of_topic(admin, topics.dead_letter)
    finally:
        admin.close()


def build_letter(
    record: Record,
    error_type: str,
    reason: str,
    failed_time: int,
    component: str,
    budget: LetterBudget,
    source_topic: str = "",
) -> tuple[bytes | None, dict[str, Any]]:
    """The dead letter of ``record`` (a DeadLetter dict) and its Kafka key, both within budget."""
    key, key_size, key_note = _kept(record.key(), budget.key_bytes, "key")
    value, value_size, value_note = _kept(record.value() or b"", budget.value_bytes, "value")
    notes = key_note + value_note  # kept whole: they say what the letter does not hold
    reason = reason[: MAX_REASON_CHARS - len(notes)] + notes
    letter = {
        "source_topic": record.topic() or source_topic,
        "partition": record.partition() or 0,
        "offset": record.offset() or 0,
        "key": key,
        "value": value,
        "reason": reason,
        "error_type": error_type,
        "failed_time": failed_time,
        "component": component,
        "key_size": key_size,
        "value_size": value_size,
    }
    return key, letter


def _kept(data: bytes | None, limit: int, name: str) -> tuple[Any, int | None, str]:
    """(what is kept, the original size if truncated, a note for the reason)."""
    if data is None or len(data) <= limit:
        return data, None, ""
    note = f" ({name} truncated to its first {limit:,} of {len(data):,} bytes)"
    return data[:limit], len(data), note


@dataclass(frozen=True, slots=True)
class Letter:
    """One dead letter with its own position in the dead-letter topic."""

    partition: int
    offset: int
    record: dict[str, Any]

    @property
    def truncated(self) -> bool:
        """Only the first part of the original key or value is kept (it cannot be replayed)."""
        if self.record.get("key_size") is not None or self.record.get("value_size") is not None:
            return True
        return " truncated to its first " in self.record["reason"]  # a v1 letter says it so

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
    failed: list[Letter] = [letter for letter in letters if letter.truncated]
    producer = broker.producer()

    def report(letter: Letter) -> Any:
        def delivered(error: str | None, where: object, offset: int | None) -> None:
            if error is not None:
                failed.append(letter)

        return delivered

    for letter in letters:
        if letter.truncated:  # only part of it was kept: replaying would send other bytes
            continue
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
