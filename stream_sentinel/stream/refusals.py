"""Counting a batch the broker refuses for good, so that it stops the loop instead of being
retried for ever (or skipped)."""

from __future__ import annotations

from collections.abc import Sequence

from stream_sentinel.errors import TransportError, UnpublishableBatch
from stream_sentinel.stream.offsets import first_offsets
from stream_sentinel.transport.base import Record, TopicPartition

BatchStart = tuple[tuple[TopicPartition, int], ...]


class Refusals:
    """Refusals in a row of the batch starting at the same offsets (the rewind point; its end
    may grow as records arrive). The ``limit``-th raises :class:`UnpublishableBatch`, with
    nothing skipped; any other outcome resets the count.

    >>> from stream_sentinel.errors import TransactionAborted
    >>> refusals = Refusals(limit=2)
    >>> refusals.count([], TransactionAborted("too large"), for_good=True)
    >>> refusals.in_a_row
    1
    >>> refusals.count([], TransactionAborted("timed out"), for_good=False)
    >>> refusals.in_a_row
    0
    >>> for _ in range(2):
    ...     refusals.count([], TransactionAborted("too large"), for_good=True)
    Traceback (most recent call last):
    ...
    stream_sentinel.errors.UnpublishableBatch: the outputs ... refused 2 times (too large); ...
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._batch: BatchStart | None = None
        self.in_a_row = 0

    def count(self, records: Sequence[Record], exc: TransportError, for_good: bool) -> None:
        """One failed attempt to publish ``records``; ``for_good``: retrying cannot fix it."""
        if not for_good:
            self.reset()
            return
        batch = tuple(sorted(first_offsets(records).items()))
        self.in_a_row = self.in_a_row + 1 if self._batch == batch else 1
        self._batch = batch
        if self.in_a_row >= self.limit:
            where = ", ".join(f"{tp.topic}[{tp.partition}] from {o}" for tp, o in batch)
            raise UnpublishableBatch(
                f"the outputs of the batch starting at {where} were refused {self.in_a_row} "
                f"times ({exc}); stopping rather than skipping it. Find the record with "
                "`stream-sentinel tail`, then raise the limit it breaks (the topic's "
                "max.message.bytes) and restart"
            ) from exc

    def reset(self) -> None:
        self._batch, self.in_a_row = None, 0
