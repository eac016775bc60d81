"""Columnar batches as domain objects (:class:`Transaction`, :class:`Feedback`).

Convenient for tests, the embedded demo and small volumes; the file and Kafka sinks encode the
columns directly instead (see :mod:`.textlayout` and :mod:`.avrolayout`).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from stream_sentinel.domain import Feedback, Label, Transaction
from stream_sentinel.generator import catalog
from stream_sentinel.generator.batch import FeedbackBatch, TransactionBatch
from stream_sentinel.generator.geography import COUNTRIES, CURRENCIES
from stream_sentinel.generator.labels import SOURCES
from stream_sentinel.generator.population import Population


def transaction_ids(seq: npt.NDArray[np.int64], id_prefix: str) -> list[str]:
    return [f"{id_prefix}{n:010d}" for n in seq.tolist()]


def ip_addresses(ips: npt.NDArray[np.uint32]) -> list[str]:
    return [f"{ip >> 24}.{(ip >> 16) & 255}.{(ip >> 8) & 255}.{ip & 255}" for ip in ips.tolist()]


def transactions(
    batch: TransactionBatch, population: Population, id_prefix: str
) -> list[Transaction]:
    """One :class:`Transaction` per row (ground truth is not part of a Transaction)."""
    columns = zip(
        transaction_ids(batch.seq, id_prefix),
        population.user_ids(batch.user),
        batch.amount.tolist(),
        batch.timestamp.tolist(),
        [CURRENCIES[c] for c in batch.currency.tolist()],
        population.merchant_ids(batch.merchant),
        [catalog.CATEGORY_NAMES[c] for c in batch.category.tolist()],
        [catalog.CHANNELS[c] for c in batch.channel.tolist()],
        [catalog.CARD_TYPES[c] for c in batch.card_type.tolist()],
        population.device_ids(batch.device),
        ip_addresses(batch.ip),
        batch.latitude.tolist(),
        batch.longitude.tolist(),
        batch.merchant_latitude.tolist(),
        batch.merchant_longitude.tolist(),
        [COUNTRIES[c] for c in batch.country.tolist()],
        [COUNTRIES[c] for c in batch.merchant_country.tolist()],
        strict=True,
    )
    return [Transaction(*row) for row in columns]


def feedback(labels: FeedbackBatch, population: Population, id_prefix: str) -> list[Feedback]:
    """One :class:`Feedback` per label."""
    columns = zip(
        transaction_ids(labels.seq, id_prefix),
        population.user_ids(labels.user),
        population.merchant_ids(labels.merchant),
        labels.event_time.tolist(),
        [Label.FRAUD if f else Label.LEGIT for f in labels.fraud.tolist()],
        [SOURCES[s] for s in labels.source.tolist()],
        labels.confidence.tolist(),
        [catalog.PATTERN_NAMES[p] or None for p in labels.pattern.tolist()],
        labels.label_time.tolist(),
        strict=True,
    )
    return [Feedback(*row) for row in columns]
