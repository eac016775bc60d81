"""Delayed ground truth: who reports a label, how late, and the queue that releases them.

Fraud is mostly reported by chargebacks (late), some by analysts (sooner) and some by customers;
a share of legitimate payments is confirmed LEGIT by analysts. Every label arrives at least
``delay`` after its transaction and at most :data:`MAX_DELAY_MULTIPLE` times that. Optional
noise flips a share of labels; an optional share of fraud is never reported.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from stream_sentinel.domain import FeedbackSource
from stream_sentinel.generator.batch import FeedbackBatch, TransactionBatch

SOURCES: tuple[FeedbackSource, ...] = tuple(FeedbackSource)
CHARGEBACK = SOURCES.index(FeedbackSource.CHARGEBACK)
ANALYST = SOURCES.index(FeedbackSource.ANALYST)
CUSTOMER = SOURCES.index(FeedbackSource.CUSTOMER)
OTHER = SOURCES.index(FeedbackSource.OTHER)
MAX_DELAY_MULTIPLE = 6.0
#: Who reports fraud, and how often.
FRAUD_SOURCES = np.array([CHARGEBACK, ANALYST, CUSTOMER], dtype=np.int8)
FRAUD_SOURCE_CDF = np.cumsum([0.65, 0.25, 0.10])
ANALYST_SHARE_OF_LEGIT = 0.6  # the rest of the LEGIT confirmations come from OTHER sources
#: Per source code: confidence, and the delay range in multiples of the base delay.
CONFIDENCE = np.array([0.99, 0.9, 0.75, 0.6])
DELAY_LOW = np.array([2.0, 1.0, 1.0, 1.0])
DELAY_HIGH = np.array([MAX_DELAY_MULTIPLE, 1.5, 2.5, 3.0])


@dataclass(frozen=True, slots=True)
class LabelPolicy:
    delay_ms: int = 30 * 60_000
    legit_share: float = 0.05  # share of legitimate payments confirmed LEGIT
    noise: float = 0.0  # share of labels that say the opposite of the truth
    missing: float = 0.0  # share of fraud never reported


def draft_labels(
    rng: np.random.Generator, chunk: TransactionBatch, policy: LabelPolicy
) -> tuple[FeedbackBatch, npt.NDArray[np.int64]]:
    """Labels for a chunk's rows (and the row each belongs to), not yet released."""
    fraud = chunk.is_fraud
    draw = rng.random((4, len(chunk)))
    labelled = np.where(fraud, draw[0] >= policy.missing, draw[0] < policy.legit_share)
    rows = np.flatnonzero(labelled)
    truth, who, when, flip = fraud[rows], draw[1][rows], draw[2][rows], draw[3][rows]
    reporter = FRAUD_SOURCES[np.minimum(np.searchsorted(FRAUD_SOURCE_CDF, who), 2)]
    source = np.where(truth, reporter, np.where(who < ANALYST_SHARE_OF_LEGIT, ANALYST, OTHER))
    multiple = DELAY_LOW[source] + (DELAY_HIGH[source] - DELAY_LOW[source]) * when
    delay = np.maximum(np.ceil(policy.delay_ms * multiple), 1).astype(np.int64)
    said_fraud = truth ^ (flip < policy.noise)
    event_time = chunk.timestamp[rows]
    labels = FeedbackBatch(
        seq=chunk.seq[rows],
        user=chunk.user[rows],
        merchant=chunk.merchant[rows],
        event_time=event_time,
        fraud=said_fraud,
        source=source.astype(np.int8),
        confidence=CONFIDENCE[source],
        pattern=np.where(said_fraud & truth, chunk.pattern[rows], 0).astype(np.int8),
        label_time=event_time + delay,
    )
    return labels, rows.astype(np.int64)


class LabelQueue:
    """Labels waiting for their time, bucketed by label time so releasing one is cheap."""

    def __init__(self, bucket_ms: int) -> None:
        self._bucket_ms = max(int(bucket_ms), 1000)
        self._buckets: defaultdict[int, list[FeedbackBatch]] = defaultdict(list)
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def push(self, labels: FeedbackBatch) -> None:
        if not len(labels):
            return
        keys = labels.label_time // self._bucket_ms
        for key in np.unique(keys).tolist():
            self._buckets[key].append(labels.take(keys == key))
        self._size += len(labels)

    def pop_due(self, until_ms: int) -> FeedbackBatch:
        """Every queued label with ``label_time <= until_ms``, in label-time order."""
        last = until_ms // self._bucket_ms
        due: list[FeedbackBatch] = []
        for key in sorted(k for k in self._buckets if k <= last):
            bucket = FeedbackBatch.concat(self._buckets.pop(key))
            ready = bucket.label_time <= until_ms
            due.append(bucket.take(ready))
            if not ready.all():
                self._buckets[key] = [bucket.take(~ready)]
        released = FeedbackBatch.concat(due)
        self._size -= len(released)
        return released.sorted_by_label_time()
