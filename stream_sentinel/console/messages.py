"""The message browser: a bounded, group-less read of one topic, decoded through the registry.

Newest first by default (the last ``limit`` records of each partition, merged by time), forward
from an offset of one partition, or forward from a time (each partition from its first record at
or after it, merged by time). A live tail reads what arrived after a cursor (the next offset per
partition), ``limit`` records per partition at most per poll. A key narrows the read to the
key's partition (where murmur2 put it); a field filter keeps records whose decoded field equals
a value. Nothing is committed: the reader belongs to no consumer group.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from stream_sentinel.errors import UsageError
from stream_sentinel.transport.base import Admin, Broker, Consumer, Record, TopicPartition
from stream_sentinel.transport.partitioner import partition_for
from stream_sentinel.wire.serde import MAGIC_BYTE, AvroDecoder

POLL_BATCH = 500
POLL_TIMEOUT_S = 0.25  # the first fetches of a fresh reader
QUIET_S = 0.05  # once records came: a poll this long that brings none means the ranges are read
EMPTY_POLLS = 3  # before any record: give up after this many empty polls
RAW_PREVIEW = 512  # bytes of the raw value shown as hex
#: What one fetch brings of a partition: a read wants at most a few hundred records, and
#: librdkafka hands all it fetched (a megabyte per partition by default) to Python.
FETCH_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class BrowseQuery:
    """What to read: all partitions newest first, or ``partition`` from ``offset`` onwards."""

    partition: int | None = None
    offset: int | None = None
    limit: int = 50
    key: str | None = None
    field: str | None = None  # "name=value" on the decoded record's top-level fields
    per_partition: int | None = None  # records read per partition (default: limit)
    since_ms: int | None = None  # forward from this time (epoch ms)

    def field_filter(self) -> tuple[str, str] | None:
        if not self.field:
            return None
        name, sep, value = self.field.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"filter {self.field!r}: write it as field=value, e.g. decision=BLOCK")
        return name.strip(), value.strip()


@dataclass(frozen=True, slots=True)
class BrowsedRecord:
    partition: int
    offset: int
    timestamp: int
    key: str | None
    value: dict[str, Any] | None  # decoded (Avro by schema id, or JSON)
    schema_id: int | None
    problem: str | None  # why the value could not be decoded
    raw_hex: str
    size: int

    def as_json(self) -> dict[str, Any]:
        return {
            "partition": self.partition,
            "offset": self.offset,
            "timestamp": self.timestamp,
            "key": self.key,
            "schema_id": self.schema_id,
            "value": self.value,
            "problem": self.problem,
            "raw_hex": self.raw_hex,
            "size": self.size,
        }

    @property
    def pretty(self) -> str:
        return json.dumps(self.value, indent=2, default=str, ensure_ascii=False)


def _ranges(
    consumer: Consumer,
    topic: str,
    partitions: Sequence[int],
    query: BrowseQuery,
    window: int,
    starts: Mapping[int, int] | None = None,
) -> dict[TopicPartition, tuple[int, int]]:
    """Per partition, the [start, end) offsets to read: forward from ``starts`` (a partition's
    offset for a time, or a tail's cursor) or ``query.offset``, else the newest ``window``."""
    ranges = {}
    for partition in partitions:
        tp = TopicPartition(topic, partition)
        low, high = consumer.watermarks(tp)
        begin = query.offset if starts is None else starts.get(partition, high)
        if begin is not None:
            start = min(max(begin, low), high)
            ranges[tp] = (start, min(start + window, high))
        else:
            ranges[tp] = (max(low, high - window), high)
    return ranges


def _read(consumer: Consumer, ranges: Mapping[TopicPartition, tuple[int, int]]) -> list[Record]:
    """Every record inside the ranges (bounded: stops when the ranges are read or go quiet)."""
    wanted = {tp: span for tp, span in ranges.items() if span[0] < span[1]}
    if not wanted:
        return []
    consumer.assign({tp: start for tp, (start, _) in wanted.items()})
    found: list[Record] = []
    pending = set(wanted)
    started: set[TopicPartition] = set()  # partitions that delivered at least one record
    empty = 0
    while pending and empty < EMPTY_POLLS:
        fetching = pending <= started
        batch = consumer.consume(POLL_BATCH, QUIET_S if fetching else POLL_TIMEOUT_S)
        if not batch and fetching:
            break  # what is left of the ranges is transaction markers, never delivered
        empty = 0 if batch else empty + 1
        for record in batch:
            tp = TopicPartition(record.topic() or "", record.partition() or 0)
            started.add(tp)
            if tp in wanted and (record.offset() or 0) < wanted[tp][1]:
                found.append(record)
        # the position also moves past transaction markers, which are never delivered
        done = {tp for tp in pending if (consumer.position(tp) or 0) >= wanted[tp][1]}
        for tp in done:
            _drop(consumer, tp)
        pending -= done
    return found


def _drop(consumer: Consumer, tp: TopicPartition) -> None:
    """Stop reading a partition whose range is read: a fetch brings up to a megabyte of it, far
    past a range that ends mid-partition, and all of that would come to Python. Seeking it to
    its end drops what was fetched, and a fetch at the end brings only records still to come."""
    _, high = consumer.watermarks(tp, cached=True)
    consumer.seek(tp, high)


class MessageBrowser:
    """Reads and decodes records of any topic for the console's pages."""

    def __init__(
        self,
        broker: Broker,
        decoder: AvroDecoder,
        max_records: int,
        admin: Callable[[], Admin] | None = None,
    ) -> None:
        """``admin`` gives the admin client that finds offsets by time (built on first use)."""
        self._broker = broker
        self._decoder = decoder
        self._max = max_records
        self._admin = admin or broker.admin

    @property
    def max_records(self) -> int:
        return self._max

    def browse(self, topic: str, partitions: int, query: BrowseQuery) -> list[BrowsedRecord]:
        """The records ``query`` asks for, newest first (or in offset order from an offset)."""
        limit = max(1, min(query.limit, self._max))
        chosen = self._partitions(partitions, query)
        filtering = query.key is not None or query.field is not None
        window = self._max * 10 if filtering else (query.per_partition or limit)
        starts = None if query.since_ms is None else self._offsets_at(topic, chosen, query.since_ms)
        read, _ = self._read(topic, chosen, query, window, starts)
        kept = list(self._filtered(read, query))
        if query.since_ms is not None:
            kept.sort(key=lambda r: (r.timestamp, r.partition, r.offset))
        elif query.offset is None:
            kept.sort(key=lambda r: (r.timestamp, r.offset), reverse=True)
        else:
            kept.sort(key=lambda r: (r.partition, r.offset))
        return kept[:limit]

    def tail(
        self, topic: str, partitions: int, query: BrowseQuery, after: Mapping[int, int] | None
    ) -> tuple[list[BrowsedRecord], dict[int, int]]:
        """(records after the cursor, newest first; the next cursor). Without a cursor the
        tail starts now: no records, and the end offsets as the cursor."""
        chosen = self._partitions(partitions, BrowseQuery(partition=query.partition, key=query.key))
        tps = [TopicPartition(topic, p) for p in chosen]
        if after is None:
            ends = self._admin().end_offsets(tps)
            return [], {tp.partition: ends[tp] for tp in tps}
        window = max(1, min(query.limit, self._max))
        read, ranges = self._read(topic, chosen, query, window, after)
        kept = list(self._filtered(read, query))
        kept.sort(key=lambda r: (r.timestamp, r.offset), reverse=True)
        return kept, {tp.partition: end for tp, (_, end) in ranges.items()}

    def _offsets_at(self, topic: str, partitions: Sequence[int], since_ms: int) -> dict[int, int]:
        times = {TopicPartition(topic, p): since_ms for p in partitions}
        return {tp.partition: o for tp, o in self._admin().offsets_for_times(times).items()}

    def _read(
        self,
        topic: str,
        partitions: Sequence[int],
        query: BrowseQuery,
        window: int,
        starts: Mapping[int, int] | None,
    ) -> tuple[list[BrowsedRecord], dict[TopicPartition, tuple[int, int]]]:
        """The decoded records of the ranges, and the ranges that were read."""
        # a small read must not wait for fetch.min.bytes to fill: the low-latency fetch settings
        consumer = self._broker.consumer(
            None, isolation="read_committed", low_latency=True, partition_fetch_bytes=FETCH_BYTES
        )
        try:
            ranges = _ranges(consumer, topic, partitions, query, window, starts)
            records = _read(consumer, ranges)
        finally:
            consumer.close()
        return self.decode(records), ranges

    @staticmethod
    def _partitions(partitions: int, query: BrowseQuery) -> list[int]:
        if query.offset is not None and query.since_ms is not None:
            raise UsageError("read from an offset or from a time, not both")
        if query.partition is not None:
            if not 0 <= query.partition < partitions:
                raise UsageError(
                    f"partition {query.partition} does not exist: the topic has {partitions} "
                    f"(0-{partitions - 1})"
                )
            return [query.partition]
        if query.key:
            return [partition_for(query.key.encode(), partitions)]
        if query.offset is not None:
            raise UsageError("an offset needs a partition: choose one to read from an offset")
        return list(range(partitions))

    @staticmethod
    def _filtered(records: Iterable[BrowsedRecord], query: BrowseQuery) -> Iterable[BrowsedRecord]:
        wanted = query.field_filter()
        for record in records:
            if query.key is not None and record.key != query.key:
                continue
            if wanted is not None:
                name, value = wanted
                if record.value is None or str(record.value.get(name)) != value:
                    continue
            yield record

    def decode(self, records: Sequence[Record]) -> list[BrowsedRecord]:
        """Records with their values decoded (Avro as written, by schema id; else JSON)."""
        values = [r.value() for r in records]
        avro_at = [i for i, v in enumerate(values) if v and v[0] == MAGIC_BYTE]
        decoded, failures = self._decoder.decode_many([values[i] for i in avro_at])
        problems = {avro_at[f.index]: f.reason for f in failures}
        documents: dict[int, Any] = {i: decoded[n] for n, i in enumerate(avro_at)}
        return [
            _browsed(record, documents.get(i), problems.get(i)) for i, record in enumerate(records)
        ]


def _browsed(record: Record, document: Any, problem: str | None) -> BrowsedRecord:
    value = record.value() or b""
    schema_id = None
    if value[:1] == bytes([MAGIC_BYTE]) and len(value) >= 5:
        schema_id = int.from_bytes(value[1:5], "big")
    elif document is None and problem is None:
        try:
            document = json.loads(value or b"null")
        except (UnicodeDecodeError, json.JSONDecodeError):
            problem = "neither Confluent-framed Avro nor JSON"
    key = record.key()
    return BrowsedRecord(
        partition=record.partition() or 0,
        offset=record.offset() or 0,
        timestamp=record.timestamp()[1],
        key=None if key is None else key.decode("utf-8", "replace"),
        value=document if isinstance(document, dict) else None,
        schema_id=schema_id,
        problem=problem,
        raw_hex=value[:RAW_PREVIEW].hex(" "),
        size=len(value),
    )
