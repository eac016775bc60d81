"""Publishing a batch: its outputs, and the consumed offsets that say it is done.

Two strategies, chosen once by :func:`publisher_for`:

- :class:`ExactlyOncePublisher`: outputs and offsets in one Kafka transaction. When a call fails
  with the outcome unknown (a commit that timed out can still complete), the producer is started
  afresh and the group's committed offsets say whether the batch made it.
- :class:`AtLeastOncePublisher`: produce, flush, refuse to go on past an undelivered output, then
  commit the offsets in the background. A lost commit only replays outputs, which this guarantee
  allows.

Both raise :class:`~stream_sentinel.errors.TransactionAborted` when the batch was certainly not
published (the loop re-reads it) and :class:`~stream_sentinel.errors.TransportError` when that
is unknown (the loop calls :meth:`Publisher.recover`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Literal, Protocol

from stream_sentinel.errors import TransactionAborted, TransportError
from stream_sentinel.stream.handler import Output
from stream_sentinel.transport.base import Broker, Consumer, Producer, TopicPartition

log = logging.getLogger(__name__)
# Short enough that a stalled coordinator sends us back to poll() (and the group) quickly.
OFFSETS_TIMEOUT_S = 10.0
COMMIT_TIMEOUT_S = 20.0
FLUSH_TIMEOUT_S = 60.0
Offsets = dict[TopicPartition, int]


class Publisher(Protocol):
    """Puts a batch's outputs and offsets on the broker, one way for every batch."""

    producer: Producer | None

    def start(self) -> None:
        """Create the producer (and register the transactional id)."""

    def publish(self, outputs: Sequence[Output], offsets: Offsets, consumer: Consumer) -> None:
        """Publish the outputs and commit ``offsets`` (the next offsets to read)."""

    def recover(self, offsets: Offsets, consumer: Consumer) -> bool:
        """After a publish whose outcome is unknown: start the producer afresh, then say whether
        the batch was committed after all."""

    def refused_for_good(self) -> int:
        """The producer's deliveries refused for good so far (see ``Producer``)."""

    def close(self) -> None: ...


class _ProducerHolder:
    """The producer both strategies own: created on start(), replaced when beyond repair."""

    def __init__(
        self, broker: Broker, transactional_id: str | None, low_latency: bool | None
    ) -> None:
        self.broker = broker
        self.transactional_id = transactional_id
        self.low_latency = low_latency
        self.producer: Producer | None = None

    def _new_producer(self) -> Producer:
        return self.broker.producer(
            transactional_id=self.transactional_id, low_latency=self.low_latency
        )

    def _started(self) -> Producer:
        assert self.producer is not None, "start() the publisher first"
        return self.producer

    def refused_for_good(self) -> int:
        return self._started().refused_for_good()

    def close(self) -> None:
        if self.producer is not None:
            self.producer.close()
            self.producer = None


class ExactlyOncePublisher(_ProducerHolder):
    """Outputs and offsets in one transaction: visible to read_committed together, or not at
    all."""

    def __init__(self, broker: Broker, transactional_id: str, low_latency: bool | None) -> None:
        super().__init__(broker, transactional_id, low_latency)

    def start(self) -> None:
        self.producer = self._new_producer()
        self.producer.init_transactions(30.0)

    def publish(self, outputs: Sequence[Output], offsets: Offsets, consumer: Consumer) -> None:
        producer = self._started()
        producer.begin_transaction()
        try:
            for topic, key, value in outputs:
                producer.produce(topic, value, key)
            group = consumer.group_metadata()
            producer.send_offsets_to_transaction(offsets, group, OFFSETS_TIMEOUT_S)
            producer.commit_transaction(COMMIT_TIMEOUT_S)
        except TransactionAborted:
            producer.abort_transaction(30.0)
            raise

    def recover(self, offsets: Offsets, consumer: Consumer) -> bool:
        # A new producer settles any transaction left open; then the committed offsets tell.
        self._reset()
        return self._committed_anyway(offsets, consumer)

    def _reset(self) -> None:
        """Abort whatever is open; when the producer is beyond repair, make a new one."""
        producer = self._started()
        try:
            producer.abort_transaction(10.0)
            return
        except (TransportError, TransactionAborted) as exc:
            log.warning("abort failed (%s); starting a new producer", exc)
        producer.close()
        self.producer = self._new_producer()
        self.producer.init_transactions(60.0)

    @staticmethod
    def _committed_anyway(offsets: Offsets, consumer: Consumer) -> bool:
        """Whether the group's committed offsets already are the batch's (a commit whose
        acknowledgement was lost)."""
        try:
            committed = consumer.committed(list(offsets), 30.0)
        except TransportError:
            return False
        return all(committed.get(tp) == offset for tp, offset in offsets.items())


class AtLeastOncePublisher(_ProducerHolder):
    """Outputs delivered first, offsets committed after: a crash in between replays outputs;
    state stays guarded by its watermark either way."""

    def __init__(self, broker: Broker, low_latency: bool | None) -> None:
        super().__init__(broker, None, low_latency)

    def start(self) -> None:
        self.producer = self._new_producer()

    def publish(self, outputs: Sequence[Output], offsets: Offsets, consumer: Consumer) -> None:
        producer = self._started()
        failed_before = producer.delivery_failures()
        for topic, key, value in outputs:
            producer.produce(topic, value, key)
        if producer.flush(FLUSH_TIMEOUT_S):
            raise TransactionAborted(f"outputs were not delivered within {FLUSH_TIMEOUT_S:.0f} s")
        failed = producer.delivery_failures() - failed_before
        if failed:  # never commit offsets past an output that was not delivered
            raise TransactionAborted(f"{failed} output(s) failed delivery")
        consumer.commit(offsets, asynchronous=True)

    def recover(self, offsets: Offsets, consumer: Consumer) -> bool:
        """A new producer; never counts as committed: replaying the batch is safe here."""
        self._started().close()
        self.producer = self._new_producer()
        return False


def publisher_for(
    guarantee: Literal["exactly-once", "at-least-once"],
    broker: Broker,
    transactional_id: str,
    low_latency: bool | None,
) -> Publisher:
    """The strategy for ``guarantee`` (the transactional id is used by exactly-once only)."""
    if guarantee == "exactly-once":
        return ExactlyOncePublisher(broker, transactional_id, low_latency)
    return AtLeastOncePublisher(broker, low_latency)
