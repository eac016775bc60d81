"""Where a consumed batch starts and ends, per partition: the rewind point and the offsets to
commit."""

from __future__ import annotations

from collections.abc import Sequence

from stream_sentinel.transport.base import Consumer, Record, TopicPartition


def partition_of(record: Record) -> TopicPartition:
    return TopicPartition(record.topic() or "", record.partition() or 0)


def first_offsets(records: Sequence[Record]) -> dict[TopicPartition, int]:
    """Per partition, the offset of the batch's first record (where a rewind goes back to)."""
    first: dict[TopicPartition, int] = {}
    for record in records:
        first.setdefault(partition_of(record), record.offset() or 0)
    return first


def next_offsets(records: Sequence[Record], consumer: Consumer | None) -> dict[TopicPartition, int]:
    """Per partition, the offset to resume from: past the batch (and past trailing markers)."""
    offsets: dict[TopicPartition, int] = {}
    for record in records:
        tp = partition_of(record)
        offsets[tp] = max(offsets.get(tp, 0), (record.offset() or 0) + 1)
    if consumer is not None:
        for tp, offset in offsets.items():
            position = consumer.position(tp)
            if position is not None and position > offset:
                offsets[tp] = position
    return offsets
