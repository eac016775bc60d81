"""The ceiling: a raw pass-through under the same guarantee, the practical upper bound here.

It consumes the same input in the same adaptive batches as the detector (``max_batch``,
doubling up to ``max_batch_burst`` under a backlog) through the same client wrappers and
settings, and produces one small record per input (8 bytes, same key) to its own topic: in one
Kafka transaction per batch together with the consumed offsets (exactly-once), or produce,
flush and commit (at-least-once). No decoding, no state, no model.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Any

from stream_sentinel.clients.backends import RealClients
from stream_sentinel.config import Settings
from stream_sentinel.stream.loop import next_offsets
from stream_sentinel.transport.base import Consumer, Producer, Record
from stream_sentinel.transport.topics import Topics

_OFFSET = struct.Struct(">q").pack


class PassThrough:
    """One pass-through member of a consumer group."""

    def __init__(self, settings: Settings, output_topic: str, slot: int) -> None:
        detector = settings.detector
        self.exactly_once = detector.guarantee == "exactly-once"
        self.output_topic = output_topic
        self.max_batch, self.burst = detector.max_batch, detector.max_batch_burst
        self.poll_timeout_s = detector.poll_timeout_ms / 1000
        broker = RealClients(settings).broker()
        txn_id = f"{settings.detector.group_id}-{slot}" if self.exactly_once else None
        self.producer: Producer = broker.producer(transactional_id=txn_id)
        if self.exactly_once:
            self.producer.init_transactions(30.0)
        self.consumer: Consumer = broker.consumer(detector.group_id)
        self.consumer.subscribe([Topics.from_settings(settings).transactions])
        self.records = self.batches = self.max_seen = 0
        self._batch = self.max_batch

    def poll(self) -> int:
        records = self.consumer.consume(self._batch, self.poll_timeout_s)
        if records:
            self.publish(records)
        full = len(records) >= self._batch
        self._batch = min(self._batch * 2, self.burst) if full else self.max_batch
        return len(records)

    def publish(self, records: Sequence[Record]) -> None:
        producer, offsets = self.producer, next_offsets(records, self.consumer)
        if self.exactly_once:
            producer.begin_transaction()
        for record in records:
            producer.produce(self.output_topic, _OFFSET(record.offset() or 0), record.key())
        if self.exactly_once:
            producer.send_offsets_to_transaction(offsets, self.consumer.group_metadata(), 30.0)
            producer.commit_transaction(60.0)
        else:
            producer.flush(60.0)
            self.consumer.commit(offsets)
        self.records += len(records)
        self.batches += 1
        self.max_seen = max(self.max_seen, len(records))

    def close(self) -> None:
        self.consumer.close()
        self.producer.close()

    def summary(self) -> dict[str, Any]:
        return {"records": self.records, "batches": self.batches, "max_batch": self.max_seen}


def ceiling_target(
    slot: int, messages: Any, stop: Any, settings: Settings, output_topic: str
) -> dict[str, Any]:
    """Pass records through until the parent says stop."""
    passthrough = PassThrough(settings, output_topic, slot)
    try:
        while not stop.is_set():
            passthrough.poll()
    finally:
        passthrough.close()
    return passthrough.summary()
