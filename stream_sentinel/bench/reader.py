"""The read_committed reader that times every participant: when did each output become visible?

It reads an output topic from the offsets it had when the participant started (so a topic shared
by several runs only shows the current one), in a thread of the benchmark's main process, with
the low-latency client profile (fetch.min.bytes 1, fetch.wait.max.ms 5) so that it adds as little
delay as it can. For each fetch it notes the wall time (``time.time()``) and how many outputs it
held; for FraudScore outputs it also reads each record's ``transaction_id`` and ``produced_time``
(the input record's Kafka timestamp) straight from the Avro bytes, without a full decode, and
checks that shortcut once per run against the serde's decoder.
"""

from __future__ import annotations

import threading
import time
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field

from stream_sentinel.errors import SentinelError, TransportError
from stream_sentinel.transport.base import Broker, Consumer, TopicPartition
from stream_sentinel.wire.serde import HEADER_SIZE

FETCH_MAX = 5_000
ScoreDecoder = Callable[[bytes], tuple[str, int]]


class ReaderError(SentinelError):
    """The reader could not interpret what a participant wrote."""


def _long(data: bytes, pos: int) -> tuple[int, int]:
    """An Avro zigzag varint at ``pos``: (value, position after it)."""
    shift = result = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return (result >> 1) ^ -(result & 1), pos
        shift += 7


def score_head(value: bytes) -> tuple[bytes, int]:
    """(transaction_id bytes, produced_time) of a framed FraudScore record.

    The first fields of FraudScore are transaction_id, user_id, merchant_id (null or string),
    amount (double), event_time, produced_time, so a few varints reach produced_time.
    """
    size, pos = _long(value, HEADER_SIZE)
    transaction_id = value[pos : pos + size]
    size, pos = _long(value, pos + size)  # user_id
    branch, pos = _long(value, pos + size)  # merchant_id: 0 = null, 1 = string
    if branch:
        size, pos = _long(value, pos)
        pos += size
    _, pos = _long(value, pos + 8)  # amount (8 bytes), then event_time
    produced, _ = _long(value, pos)
    return transaction_id, produced


def _end_offset(consumer: Consumer, tp: TopicPartition, timeout_s: float = 30.0) -> int:
    """The partition's end, retried while a new topic's leaders are still being elected."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return consumer.watermarks(tp, 5.0)[1]
        except TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


@dataclass
class Visibility:
    """What the reader saw, in arrival order."""

    fetch_times: array[float] = field(default_factory=lambda: array("d"))  # wall time, s
    fetch_totals: array[int] = field(default_factory=lambda: array("q"))  # outputs seen by then
    produced_ms: array[int] = field(default_factory=lambda: array("q"))  # per FraudScore
    seen_ms: array[float] = field(default_factory=lambda: array("d"))
    transaction_ids: set[bytes] = field(default_factory=set)
    total: int = 0

    @property
    def first_s(self) -> float | None:
        return self.fetch_times[0] if self.fetch_times else None

    @property
    def last_s(self) -> float | None:
        return self.fetch_times[-1] if self.fetch_times else None

    def seen_by(self, moment_s: float) -> int:
        """Outputs visible by wall time ``moment_s``."""
        seen = 0
        for at, total in zip(self.fetch_times, self.fetch_totals, strict=True):
            if at > moment_s:
                break
            seen = total
        return seen


class OutputReader:
    """Reads one output topic from its current end, in a thread, until stopped."""

    def __init__(
        self,
        broker: Broker,
        topic: str,
        partitions: int,
        scores: ScoreDecoder | None = None,
        avro: bool = True,
    ) -> None:
        self.broker, self.topic, self.partitions = broker, topic, partitions
        self.scores = scores  # None: outputs are counted, not parsed
        # Avro FraudScores are read by offset (checked once); JSON ones through the decoder.
        self._head: Callable[[bytes], tuple[bytes, int]] = score_head if avro else self._decoded
        self._checked = not avro
        self.seen = Visibility()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._consumer: Consumer | None = None
        self.error: BaseException | None = None

    def start(self) -> None:
        consumer = self.broker.consumer(None, isolation="read_committed", low_latency=True)
        tps = [TopicPartition(self.topic, p) for p in range(self.partitions)]
        self._consumer = consumer
        consumer.assign({tp: _end_offset(consumer, tp) for tp in tps})
        self._thread = threading.Thread(target=self._run, name="bench-reader", daemon=True)
        self._thread.start()

    def stop(self) -> Visibility:
        """Stop reading; what was seen (ReaderError if reading failed)."""
        self.close()
        if self.error is not None:
            raise ReaderError(f"the output reader failed: {self.error}") from self.error
        return self.seen

    def close(self) -> None:
        """Stop the thread and release the consumer (idempotent, never raises)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30.0)
            self._thread = None
        if self._consumer is not None:
            self._consumer.close()
            self._consumer = None

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                self._fetch()
        except BaseException as exc:  # surfaced by stop()
            self.error = exc

    def _fetch(self) -> None:
        assert self._consumer is not None
        records = self._consumer.consume(FETCH_MAX, 0.05)
        if not records:
            return
        now = time.time()
        seen = self.seen
        if self.scores is not None:
            self._parse([r.value() or b"" for r in records], now * 1000)
        seen.total += len(records)
        seen.fetch_times.append(now)
        seen.fetch_totals.append(seen.total)

    def _parse(self, values: list[bytes], now_ms: float) -> None:
        seen = self.seen
        if not self._checked:
            self._check(values[0])
        ids, produced, seen_ms, head = (
            seen.transaction_ids,
            seen.produced_ms,
            seen.seen_ms,
            self._head,
        )
        for value in values:
            transaction_id, produced_time = head(value)
            ids.add(transaction_id)
            produced.append(produced_time)
            seen_ms.append(now_ms)

    def _decoded(self, value: bytes) -> tuple[bytes, int]:
        assert self.scores is not None
        transaction_id, produced = self.scores(value)
        return transaction_id.encode(), produced

    def _check(self, value: bytes) -> None:
        """The shortcut must agree with the serde on the first record, or nothing is measured."""
        assert self.scores is not None
        transaction_id, produced = score_head(value)
        want_id, want_produced = self.scores(value)
        if (transaction_id.decode(), produced) != (want_id, want_produced):
            raise ReaderError(
                f"reading FraudScore fields by offset gave {transaction_id!r}/{produced}, the "
                f"serde {want_id!r}/{want_produced}: has the FraudScore schema changed?"
            )
        self._checked = True
