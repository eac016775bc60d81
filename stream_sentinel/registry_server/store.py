"""Where the registry's log lives: the compacted ``_schemas`` topic, or memory (embedded mode).

:class:`TopicLog` works over the :class:`~stream_sentinel.transport.base.Broker` interface, so the
same code keeps state in real Kafka and in the embedded broker. Records are read by offset (a
replica follows the log from where it is) and appended in order; an append returns the offset
after its last record, the position a writer waits for to read its own write.

With a ``transactional_id`` every append is one Kafka transaction, and :meth:`TopicLog.fence`
makes this process the only writer: Kafka refuses any older producer with the same id, so a
deposed leader can never write after its successor has started.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from typing import Protocol

from stream_sentinel.errors import RegistryError, ServiceUnavailable, TransportError
from stream_sentinel.registry_server import errors
from stream_sentinel.registry_server.limits import MAX_RECORD_BYTES
from stream_sentinel.registry_server.state import LogRecord
from stream_sentinel.transport.base import (
    Broker,
    Consumer,
    DeliveryCallback,
    Producer,
    TopicPartition,
    TopicSpec,
)
from stream_sentinel.transport.topics import LAYOUT, SCHEMAS

LogEntry = tuple[int, bytes, bytes | None]  # offset, key, value


class SchemaLog(Protocol):
    """An append-only, keyed, offset-addressed log of registry changes."""

    def read_from(self, position: int, timeout_s: float) -> tuple[list[LogEntry], int]:
        """Records at ``position`` and after (waiting up to ``timeout_s`` for one), and the
        position after them."""

    def end_offset(self, timeout_s: float | None = None) -> int:
        """The offset after the last record now in the log."""

    def append(self, records: Sequence[LogRecord]) -> int:
        """Durably append records in order; the offset after the last one. 50001 on failure."""

    def close(self) -> None: ...


def read_all(log: SchemaLog, timeout_s: float = 30.0) -> Iterator[LogRecord]:
    """Every record from the start to the current end (what a restart replays)."""
    end, position = log.end_offset(), 0
    while position < end:
        entries, after = log.read_from(position, timeout_s)
        if after <= position:
            raise ServiceUnavailable(f"reading the registry log stopped at offset {position}")
        for _, key, value in entries:
            yield key, value
        position = after


class MemoryLog:
    """A log in a Python list (offset = index): the embedded mode's store and the unit tests'."""

    def __init__(self) -> None:
        self.records: list[LogRecord] = []
        self._lock = threading.Lock()

    def read_all(self) -> Iterator[LogRecord]:
        with self._lock:
            snapshot = list(self.records)
        return iter(snapshot)

    def read_from(self, position: int, timeout_s: float = 0.0) -> tuple[list[LogEntry], int]:
        with self._lock:
            tail = self.records[position:]
        entries = [(position + n, key, value) for n, (key, value) in enumerate(tail)]
        return entries, position + len(entries)

    def end_offset(self, timeout_s: float | None = None) -> int:
        with self._lock:
            return len(self.records)

    def append(self, records: Sequence[LogRecord]) -> int:
        with self._lock:
            self.records.extend(records)
            return len(self.records)

    def close(self) -> None:
        return None


class TopicLog:
    """The registry's log in a one-partition compacted topic, created when missing."""

    def __init__(
        self,
        broker: Broker,
        topic: str,
        timeout_s: float = 30.0,
        transactional_id: str | None = None,
    ) -> None:
        self._broker = broker
        self._topic = topic
        self._partition = TopicPartition(topic, 0)
        self._timeout_s = timeout_s
        self._transactional_id = transactional_id
        self._producer: Producer | None = None
        self._reader: Consumer | None = None
        self._reader_at: int | None = None
        self._offsets: Consumer | None = None
        self._offsets_lock = threading.Lock()

    def ensure_topic(self, extra: Sequence[str] = ()) -> bool:
        """Create the topic (1 partition, compacted), and ``extra`` topics like it, if missing;
        True when the log topic was created."""
        partitions, config = LAYOUT[SCHEMAS]
        specs = [TopicSpec(name, partitions, dict(config)) for name in (self._topic, *extra)]
        admin = self._broker.admin()
        try:
            created = admin.create_topics(specs)
        finally:
            admin.close()
        return created.get(self._topic, False)

    def read_all(self) -> Iterator[LogRecord]:
        return read_all(self, self._timeout_s)

    def read_from(self, position: int, timeout_s: float) -> tuple[list[LogEntry], int]:
        reader = self._reader_at_position(position)
        entries: list[LogEntry] = []
        after = position
        for record in reader.consume(500, timeout_s):
            offset = record.offset() or 0
            key = record.key()
            if key is not None:
                entries.append((offset, key, record.value()))
            after = max(after, offset + 1)
        # Control records (transaction markers) take offsets too: trust the position.
        after = max(after, reader.position(self._partition) or 0)
        self._reader_at = after
        return entries, after

    def _reader_at_position(self, position: int) -> Consumer:
        if self._reader is None:
            self._reader = self._broker.consumer(None, isolation="read_committed")
        if self._reader_at != position:
            self._reader.assign({self._partition: position})
            self._reader_at = position
        return self._reader

    def end_offset(self, timeout_s: float | None = None) -> int:
        with self._offsets_lock:
            if self._offsets is None:
                self._offsets = self._broker.consumer(None, isolation="read_committed")
            try:
                return self._offsets.watermarks(self._partition, timeout_s or self._timeout_s)[1]
            except TransportError as exc:
                raise errors.store_error(f"reading the end of {self._topic}: {exc}") from exc

    def fence(self) -> None:
        """Become the only writer: a fresh transactional producer fences every older one."""
        if self._transactional_id is None:
            return
        self._close_producer()
        producer = self._get_producer()
        try:
            producer.init_transactions(self._timeout_s)
        except TransportError as exc:
            self._close_producer()
            raise self._failure(str(exc)) from exc

    def append(self, records: Sequence[LogRecord]) -> int:
        producer = self._get_producer()
        offsets: list[int] = []
        failures: list[str] = []

        def delivered(error: str | None, _where: object, offset: int | None) -> None:
            if error is not None:
                failures.append(error)
            elif offset is not None:
                offsets.append(offset)

        try:
            self._produce(producer, records, delivered)
        except TransportError as exc:
            self._abandon(producer)
            # A record the broker refused fails the commit; its own reason says more.
            raise self._failure(failures[0] if failures else str(exc)) from exc
        if failures or len(offsets) < len(records):
            reason = failures[0] if failures else "records not acknowledged in time"
            raise self._failure(f"writing {self._topic} failed: {reason}")
        return max(offsets, default=-1) + 1

    def _produce(
        self, producer: Producer, records: Sequence[LogRecord], delivered: DeliveryCallback
    ) -> None:
        transactional = self._transactional_id is not None
        if transactional:
            producer.begin_transaction()
        for key, value in records:
            producer.produce(self._topic, value, key, partition=0, on_delivery=delivered)
        producer.flush(self._timeout_s)  # serves the delivery reports, which carry the offsets
        if transactional:
            producer.commit_transaction(self._timeout_s)

    def _abandon(self, producer: Producer) -> None:
        if self._transactional_id is None:
            return
        try:
            producer.abort_transaction(self._timeout_s)
        except TransportError:
            self._close_producer()  # fenced or fatal: the next leader term starts a new one

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
            # failure can never land later and collide with the next id. A transactional
            # writer needs no bound: a failed transaction is aborted and never becomes visible
            # (and librdkafka bounds delivery by the transaction timeout).
            delivery_ms = None
            if self._transactional_id is None:
                delivery_ms = int(max(self._timeout_s - 5.0, 1.0) * 1000)
            self._producer = self._broker.producer(
                transactional_id=self._transactional_id, delivery_timeout_ms=delivery_ms
            )
        return self._producer

    def _close_producer(self) -> None:
        if self._producer is not None:
            self._producer.close()
            self._producer = None

    def close(self) -> None:
        self._close_producer()
        for consumer in (self._reader, self._offsets):
            if consumer is not None:
                consumer.close()
        self._reader = self._offsets = None
