"""Where the registry's log lives: the compacted ``_schemas`` topic, or memory (embedded mode).

:class:`TopicLog` works over the :class:`~stream_sentinel.transport.base.Broker` interface, so the
same code keeps state in real Kafka and in the embedded broker. One registry process writes the
topic (there is no leader election); every write waits for the broker's acknowledgement before the
registry answers, so an acknowledged change survives a restart.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from typing import Protocol

from stream_sentinel.errors import RegistryError, ServiceUnavailable, TransportError
from stream_sentinel.registry_server import errors
from stream_sentinel.registry_server.limits import MAX_RECORD_BYTES
from stream_sentinel.registry_server.state import LogRecord
from stream_sentinel.transport.base import Broker, Consumer, Producer, TopicPartition, TopicSpec
from stream_sentinel.transport.topics import LAYOUT, SCHEMAS


class SchemaLog(Protocol):
    """An append-only, keyed log of registry changes."""

    def read_all(self) -> Iterator[LogRecord]:
        """Every record from the start, in order (what a restart replays)."""

    def append(self, records: Sequence[LogRecord]) -> None:
        """Durably append records in order; RegistryError 50001 when the store fails."""

    def close(self) -> None: ...


class MemoryLog:
    """A log in a Python list: the embedded mode's store (and the unit tests')."""

    def __init__(self) -> None:
        self.records: list[LogRecord] = []
        self._lock = threading.Lock()

    def read_all(self) -> Iterator[LogRecord]:
        with self._lock:
            snapshot = list(self.records)
        return iter(snapshot)

    def append(self, records: Sequence[LogRecord]) -> None:
        with self._lock:
            self.records.extend(records)

    def close(self) -> None:
        return None


class TopicLog:
    """The registry's log in a one-partition compacted topic, created when missing."""

    def __init__(self, broker: Broker, topic: str, timeout_s: float = 30.0) -> None:
        self._broker = broker
        self._topic = topic
        self._partition = TopicPartition(topic, 0)
        self._timeout_s = timeout_s
        self._producer: Producer | None = None

    def ensure_topic(self) -> bool:
        """Create the topic (1 partition, compacted) if missing; True when it was created."""
        partitions, config = LAYOUT[SCHEMAS]
        admin = self._broker.admin()
        try:
            created = admin.create_topics([TopicSpec(self._topic, partitions, dict(config))])
        finally:
            admin.close()
        return created.get(self._topic, False)

    def read_all(self) -> Iterator[LogRecord]:
        consumer = self._broker.consumer(None, isolation="read_committed")
        try:
            _, high = consumer.watermarks(self._partition, self._timeout_s)
            consumer.assign({self._partition: 0})
            yield from self._read_until(consumer, high)
        finally:
            consumer.close()

    def _read_until(self, consumer: Consumer, high: int) -> Iterator[LogRecord]:
        deadline = time.monotonic() + self._timeout_s
        position = 0
        while position < high:
            if time.monotonic() > deadline:
                raise ServiceUnavailable(
                    f"reading {self._topic} stopped at offset {position} of {high}; "
                    "is Kafka healthy?"
                )
            for record in consumer.consume(500, 0.5):
                key = record.key()
                if key is not None:
                    yield key, record.value()
                position = max(position, (record.offset() or 0) + 1)
            # Control records (transaction markers) take offsets too: trust the position.
            position = max(position, consumer.position(self._partition) or 0)

    def append(self, records: Sequence[LogRecord]) -> None:
        failures: list[str] = []

        def delivered(error: str | None, _where: object, _offset: int | None) -> None:
            if error is not None:
                failures.append(error)

        producer = self._get_producer()
        try:
            for key, value in records:
                producer.produce(self._topic, value, key, partition=0, on_delivery=delivered)
            remaining = producer.flush(self._timeout_s)
        except TransportError as exc:
            raise self._failure(str(exc)) from exc
        if remaining or failures:
            reason = failures[0] if failures else f"{remaining} records not acknowledged in time"
            raise self._failure(f"writing {self._topic} failed: {reason}")

    def _failure(self, reason: str) -> RegistryError:
        # librdkafka's text for MSG_SIZE_TOO_LARGE, whether its own check or the broker refused.
        if "message size too large" in reason.lower():
            return errors.schema_too_large(
                f"Kafka refused the {self._topic} record ({reason}): its message size limit is "
                f"below the registry's {MAX_RECORD_BYTES} bytes; make the schema smaller or "
                f"raise the topic's max.message.bytes"
            )
        return errors.store_error(reason)

    def _get_producer(self) -> Producer:
        if self._producer is None:
            # Records give up before append() stops waiting, so an append that reports a
            # failure can never land later and collide with the next id.
            delivery_ms = int(max(self._timeout_s - 5.0, 1.0) * 1000)
            self._producer = self._broker.producer(delivery_timeout_ms=delivery_ms)
        return self._producer

    def close(self) -> None:
        if self._producer is not None:
            self._producer.close()
            self._producer = None
