"""The timestamp of the first record at or after an offset: what lag in seconds is made of.

A group's lag in seconds is the age of its oldest unread record, the first record at or after
its committed offset. One reader assigned every lagging partition reads a few offsets of each
(the first ones may be transaction markers). A fetch brings far more of a partition than the
few offsets wanted, so a partition is sought to its high watermark once it has given its first
record, which drops what was fetched and leaves it nothing more to deliver. A partition that
brings nothing (a read_committed reader waits at an open transaction, while lag is measured to
the high watermark) ends the read after a few empty polls, and the read is bounded overall.

A log never changes, so the timestamp found at ``(partition, offset)`` stays true: it is kept,
and a group whose committed offset has not moved since the last read costs no read at all. What
retention deleted (below the low watermark a read sees) is forgotten, and so is all of a
partition whose high watermark fell to or below an offset kept (its topic was created again).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping

from stream_sentinel.console.messages import FETCH_BYTES
from stream_sentinel.errors import TransportError
from stream_sentinel.transport.base import Broker, Consumer, Record, TopicPartition

POLL_TIMEOUT_S = 0.25  # waits for the first fetches of a fresh reader
EMPTY_POLLS = 3  # polls that bring nothing of a pending partition before the reader gives up
MAX_POLLS = 40  # polls of one read at most (about 10 s of waiting)
OLDEST_WINDOW = 16  # offsets read per partition (transaction markers take some)
KEPT = 4096  # (partition, offset) timestamps kept; all are forgotten when full


def first_records(
    consumer: Consumer, ranges: Mapping[TopicPartition, tuple[int, int]]
) -> dict[TopicPartition, int]:
    """Per partition, the timestamp of its first record inside its [start, end) range; absent
    where the range holds none (only transaction markers, or nothing arrived in time)."""
    wanted = {tp: span for tp, span in ranges.items() if span[0] < span[1]}
    if not wanted:
        return {}
    consumer.assign({tp: start for tp, (start, _) in wanted.items()})
    first: dict[TopicPartition, int] = {}
    pending = set(wanted)
    empty = polls = 0
    while pending and empty < EMPTY_POLLS and polls < MAX_POLLS:
        polls += 1
        found = _firsts(consumer.consume(OLDEST_WINDOW, POLL_TIMEOUT_S), pending, wanted)
        empty = 0 if found else empty + 1
        for tp, timestamp in found.items():
            first[tp] = timestamp
            consumer.seek(tp, consumer.watermarks(tp, cached=True)[1])
        # the position also moves past transaction markers, which are never delivered
        pending = {
            tp for tp in pending - found.keys() if (consumer.position(tp) or 0) < wanted[tp][1]
        }
    return first


def _firsts(
    batch: list[Record],
    pending: set[TopicPartition],
    wanted: Mapping[TopicPartition, tuple[int, int]],
) -> dict[TopicPartition, int]:
    """The first record's timestamp of each pending partition the batch holds inside its range."""
    first: dict[TopicPartition, int] = {}
    for record in batch:
        tp = TopicPartition(record.topic() or "", record.partition() or 0)
        if tp in pending and tp not in first and (record.offset() or 0) < wanted[tp][1]:
            first[tp] = record.timestamp()[1]
    return first


class FirstRecordTimes:
    """The first record's timestamp at or after each partition's offset, read once per offset.

    >>> from stream_sentinel.transport.memory import MemoryBroker
    >>> times = FirstRecordTimes(MemoryBroker)
    >>> times.oldest({}), times.reads
    ({}, 0)
    """

    def __init__(self, broker: Callable[[], Broker], kept: int = KEPT) -> None:
        """``broker`` gives the broker to read from (built on first use)."""
        self._broker = broker
        self._kept = kept
        self._known: dict[tuple[TopicPartition, int], int] = {}
        self._lock = threading.Lock()
        self.reads = 0  # readers opened so far

    def oldest(self, spans: Mapping[TopicPartition, tuple[int, int]]) -> dict[TopicPartition, int]:
        """Per partition, the timestamp of the first record in its [start, end) span (``end``
        the high watermark); absent where none was found. Only the spans whose start was never
        read are read."""
        with self._lock:
            self._forget_recreated(spans)
            found = {
                tp: self._known[tp, s] for tp, (s, _) in spans.items() if (tp, s) in self._known
            }
        missing = {tp: span for tp, span in spans.items() if tp not in found}
        if not missing:
            return found
        read, lows = self._read(missing)
        with self._lock:
            self._forget_below(lows)
            if len(self._known) + len(read) > self._kept:
                self._known.clear()
            self._known.update({(tp, missing[tp][0]): ts for tp, ts in read.items()})
        return found | read

    def _forget_recreated(self, spans: Mapping[TopicPartition, tuple[int, int]]) -> None:
        """Forget every timestamp of a partition whose high watermark is now at or below an
        offset a record was found at: its topic was deleted and created again."""
        shrunk = {tp for tp, off in self._known if tp in spans and off >= spans[tp][1]}
        for key in [key for key in self._known if key[0] in shrunk]:
            del self._known[key]

    def _forget_below(self, lows: Mapping[TopicPartition, int]) -> None:
        """Forget the timestamps of offsets retention has deleted (below the low watermark)."""
        for key in [k for k in self._known if k[0] in lows and k[1] < lows[k[0]]]:
            del self._known[key]

    def _read(
        self, spans: Mapping[TopicPartition, tuple[int, int]]
    ) -> tuple[dict[TopicPartition, int], dict[TopicPartition, int]]:
        """(the first records' timestamps, each read partition's low watermark where known)."""
        ranges = {tp: (s, min(s + OLDEST_WINDOW, end)) for tp, (s, end) in spans.items()}
        consumer = self._broker().consumer(
            None, isolation="read_committed", low_latency=True, partition_fetch_bytes=FETCH_BYTES
        )
        with self._lock:
            self.reads += 1
        try:
            return first_records(consumer, ranges), _lows(consumer, ranges)
        finally:
            consumer.close()


def _lows(consumer: Consumer, partitions: Iterable[TopicPartition]) -> dict[TopicPartition, int]:
    """Each partition's low watermark as the reader's fetches reported it (none on an error:
    forgetting is only housekeeping)."""
    lows = {}
    for tp in partitions:
        try:
            lows[tp] = consumer.watermarks(tp, cached=True)[0]
        except TransportError:
            continue
    return lows
