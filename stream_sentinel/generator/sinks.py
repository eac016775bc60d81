"""Where generated traffic goes: the interface every sink implements."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from stream_sentinel.generator.batch import FeedbackBatch, TransactionBatch


@dataclass(slots=True)
class DeliveryStats:
    """What a sink has confirmed, and what it could not deliver (never dropped silently)."""

    transactions: int = 0
    labels: int = 0
    errors: int = 0
    last_error: str | None = None


class Sink(Protocol):
    """Receives transactions and released labels; ``close`` makes everything durable."""

    destination: str
    stats: DeliveryStats
    writes_labels: bool  # False: the sink keeps ground truth its own way (files: columns)

    def write(self, batch: TransactionBatch) -> None: ...

    def write_labels(self, labels: FeedbackBatch) -> None: ...

    def poll(self) -> None:
        """Serve delivery reports that arrived (cheap; called once per batch)."""

    def close(self) -> None:
        """Flush and finalise; undelivered records count as errors."""

    def abort(self) -> None:
        """Give up: leave nothing half-written behind."""


class ForwardingSink:
    """A sink that hands everything to ``inner``; wrappers override what they add."""

    writes_labels = True

    def __init__(self, inner: Sink) -> None:
        self.inner = inner
        self.destination = inner.destination
        self.stats: DeliveryStats = inner.stats  # the same object: the inner sink counts

    def write(self, batch: TransactionBatch) -> None:
        self.inner.write(batch)

    def write_labels(self, labels: FeedbackBatch) -> None:
        self.inner.write_labels(labels)

    def poll(self) -> None:
        self.inner.poll()

    def close(self) -> None:
        self.inner.close()

    def abort(self) -> None:
        self.inner.abort()


class ListSink:
    """Keeps batches in memory (tests, in-process callers)."""

    destination = "memory"
    writes_labels = True

    def __init__(self) -> None:
        self.batches: list[TransactionBatch] = []
        self.labels: list[FeedbackBatch] = []
        self.stats = DeliveryStats()
        self.closed = False

    def write(self, batch: TransactionBatch) -> None:
        self.batches.append(batch)
        self.stats.transactions += len(batch)

    def write_labels(self, labels: FeedbackBatch) -> None:
        self.labels.append(labels)
        self.stats.labels += len(labels)

    def poll(self) -> None:
        return None

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.batches.clear()
        self.labels.clear()
