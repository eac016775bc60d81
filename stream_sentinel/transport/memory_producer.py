"""The embedded broker's producer: plain and transactional (see :mod:`.memory`)."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence

from stream_sentinel.errors import ProducerFenced, TransactionAborted, TransportError
from stream_sentinel.transport.base import DeliveryCallback, GroupMetadata, TopicPartition
from stream_sentinel.transport.memory_log import MemoryCluster
from stream_sentinel.transport.partitioner import partition_for

#: librdkafka's default message.max.bytes: key + value over it are refused at produce().
PRODUCER_MAX_MESSAGE_BYTES = 1_000_000
#: Kafka's default max.message.bytes: a topic that sets none takes records up to this.
KAFKA_MAX_MESSAGE_BYTES = 1_048_588


class MemoryProducer:
    """Producer over a :class:`MemoryCluster`; transactional when given a transactional id."""

    def __init__(self, cluster: MemoryCluster, transactional_id: str | None = None) -> None:
        self._cluster = cluster
        self._txn_id = transactional_id
        self._epoch: int | None = None
        self._in_txn = False
        self._buffer: list[
            tuple[str, int, bytes | None, bytes | None, int, list | None, DeliveryCallback | None]
        ] = []
        self._offsets: dict[TopicPartition, int] = {}
        self._offsets_group: GroupMetadata | None = None
        self._pending_callbacks: list[
            tuple[DeliveryCallback, str | None, TopicPartition | None, int | None]
        ] = []
        self._sticky = itertools.count()
        self._failures = self._refused = 0
        self._txn_refused = 0  # records of the open transaction the "broker" refused

    # -- plain produce ----------------------------------------------------------------------------
    def produce(
        self,
        topic: str,
        value: bytes | None,
        key: bytes | None = None,
        *,
        partition: int | None = None,
        timestamp_ms: int | None = None,
        headers: Sequence[tuple[str, bytes]] | None = None,
        on_delivery: DeliveryCallback | None = None,
    ) -> None:
        size = len(key or b"") + len(value or b"")
        if size > PRODUCER_MAX_MESSAGE_BYTES:  # as librdkafka refuses it, before it is queued
            raise TransportError(
                f"produce to {topic} failed: Broker: Message size too large ({size:,} bytes, "
                f"more than message.max.bytes {PRODUCER_MAX_MESSAGE_BYTES:,})",
                retriable=False,
            )
        with self._cluster.lock:
            count = self._cluster.partitions(topic)
            if partition is None:
                partition = (
                    partition_for(key, count) if key is not None else next(self._sticky) % count
                )
            elif not 0 <= partition < count:
                raise TransportError(f"unknown partition {topic}[{partition}] ({count} partitions)")
            stamp = self._cluster.clock.now_ms() if timestamp_ms is None else timestamp_ms
            hdrs: list[tuple[str, bytes | None]] | None = (
                [(k, v) for k, v in headers] if headers else None
            )
            refused = size > self._topic_limit(topic)  # as a broker refuses it: at delivery
            if self._txn_id is not None:
                self._require_txn()
                self._txn_refused += refused
                if not refused:
                    self._buffer.append((topic, partition, key, value, stamp, hdrs, on_delivery))
                return
            if refused:
                self._refuse(topic, partition, on_delivery)
                return
            offset = self._cluster.append(topic, partition, key, value, stamp, hdrs)
            self._cluster.changed.notify_all()
        if on_delivery is not None:
            self._pending_callbacks.append(
                (on_delivery, None, TopicPartition(topic, partition), offset)
            )

    def _topic_limit(self, topic: str) -> int:
        limit = self._cluster.configs.get(topic, {}).get("max.message.bytes")
        return int(limit) if limit else KAFKA_MAX_MESSAGE_BYTES

    def _refuse(self, topic: str, partition: int, on_delivery: DeliveryCallback | None) -> None:
        self._failures += 1
        self._refused += 1
        if on_delivery is not None:
            error = "Broker: Message size too large"
            self._pending_callbacks.append(
                (on_delivery, error, TopicPartition(topic, partition), None)
            )

    def poll(self, timeout_s: float = 0.0) -> int:
        callbacks, self._pending_callbacks = self._pending_callbacks, []
        for callback, error, tp, offset in callbacks:
            callback(error, tp, offset)
        return len(callbacks)

    def flush(self, timeout_s: float = 30.0) -> int:
        self.poll()
        return 0

    def delivery_failures(self) -> int:
        return self._failures

    def refused_for_good(self) -> int:
        return self._refused

    # -- transactions -----------------------------------------------------------------------------
    def init_transactions(self, timeout_s: float = 30.0) -> None:
        if self._txn_id is None:
            raise TransportError("init_transactions needs a producer with a transactional_id")
        with self._cluster.lock:
            self._epoch = self._cluster.txn_epochs.get(self._txn_id, 0) + 1
            self._cluster.txn_epochs[self._txn_id] = self._epoch

    def begin_transaction(self) -> None:
        self._check_not_fenced()
        if self._in_txn:
            raise TransportError("a transaction is already open: commit or abort it first")
        self._in_txn = True

    def send_offsets_to_transaction(
        self, offsets: Mapping[TopicPartition, int], group: GroupMetadata, timeout_s: float = 30.0
    ) -> None:
        self._require_txn()
        if self._offsets_group is not None and self._offsets_group.group_id != group.group_id:
            raise TransportError("one transaction can carry the offsets of one consumer group")
        self._offsets.update(offsets)
        self._offsets_group = group

    def commit_transaction(self, timeout_s: float = 30.0) -> None:
        self._require_txn()
        cluster = self._cluster
        with cluster.lock:
            self._check_not_fenced()
            group = self._offsets_group
            if self._txn_refused:
                count = self._txn_refused
                self._failures += count
                self._refused += count
                self._discard(markers=True)
                raise TransactionAborted(
                    f"transaction aborted: {count} record(s) failed delivery "
                    "(Broker: Message size too large)"
                )
            if group is not None and not cluster.is_current(group):
                self._discard(markers=True)
                raise TransactionAborted(
                    f"transaction aborted: consumer group {group.group_id!r} rebalanced "
                    f"(generation {group.generation} is no longer current)"
                )
            delivered = self._append_buffer()
            if group is not None:
                cluster.group(group.group_id).committed.update(self._offsets)
            self._reset()
            cluster.changed.notify_all()
        self._pending_callbacks.extend(delivered)
        self.poll()

    def abort_transaction(self, timeout_s: float = 30.0) -> None:
        if not self._in_txn:
            return
        with self._cluster.lock:
            self._discard(markers=True)
            self._cluster.changed.notify_all()

    def close(self) -> None:
        if self._in_txn:
            self.abort_transaction()

    # -- internals --------------------------------------------------------------------------------
    def _append_buffer(self) -> list:
        delivered = []
        touched: set[TopicPartition] = set()
        for topic, partition, key, value, stamp, hdrs, callback in self._buffer:
            offset = self._cluster.append(topic, partition, key, value, stamp, hdrs)
            tp = TopicPartition(topic, partition)
            touched.add(tp)
            if callback is not None:
                delivered.append((callback, None, tp, offset))
        for tp in sorted(touched):
            self._cluster.append_marker(tp)
        return delivered

    def _discard(self, markers: bool) -> None:
        """Drop the transaction; like Kafka, its records and abort marker still use offsets."""
        if markers:
            touched = set()
            for topic, partition, *_ in self._buffer:
                tp = TopicPartition(topic, partition)
                self._cluster.append_marker(tp)
                touched.add(tp)
            for tp in sorted(touched):
                self._cluster.append_marker(tp)
        self._reset()

    def _reset(self) -> None:
        self._txn_refused = 0
        self._buffer = []
        self._offsets = {}
        self._offsets_group = None
        self._in_txn = False

    def _require_txn(self) -> None:
        if not self._in_txn:
            raise TransportError(
                "transactional producer used outside a transaction: call begin_transaction()"
            )
        self._check_not_fenced()

    def _check_not_fenced(self) -> None:
        if self._txn_id is None:
            raise TransportError("this producer is not transactional (no transactional_id)")
        if self._epoch is None:
            raise TransportError("call init_transactions() before using transactions")
        if self._cluster.txn_epochs.get(self._txn_id) != self._epoch:
            self._reset()
            raise ProducerFenced(
                f"producer fenced: another producer took transactional id {self._txn_id!r}"
            )
