"""Columnar batches: one numpy array per field, rows in event-time order.

A :class:`TransactionBatch` holds codes and numbers, not strings (user 42, merchant 7, channel
code 1); :mod:`stream_sentinel.generator.domain_objects` turns rows into domain objects and
the encoders print them. ``pattern`` is the ground truth (0 = legitimate): it exists for labels,
files and evaluation, and a detector's features must never read it.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Self

import numpy as np
import numpy.typing as npt

from stream_sentinel.generator.catalog import PATTERN_NAMES

Array = npt.NDArray[Any]


class _Columns:
    """Shared behaviour of the columnar dataclasses below."""

    __slots__ = ()

    def __len__(self) -> int:
        return len(getattr(self, fields(self)[0].name))  # type: ignore[arg-type]

    def take(self, index: Array | slice) -> Self:
        """Rows selected by a slice, a boolean mask or integer positions."""
        return type(self)(**{f.name: getattr(self, f.name)[index] for f in fields(self)})  # type: ignore[arg-type]

    @classmethod
    def empty(cls) -> Self:
        return cls(**{f.name: np.empty(0, dtype=_DTYPES[f.name]) for f in fields(cls)})  # type: ignore[arg-type]

    @classmethod
    def concat(cls, parts: list[Self]) -> Self:
        if not parts:
            return cls.empty()
        if len(parts) == 1:
            return parts[0]
        return cls(
            **{f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(cls)}  # type: ignore[arg-type]
        )


@dataclass(slots=True)
class TransactionBatch(_Columns):
    """Transactions as columns. ``seq`` numbers rows in emission order across a run."""

    seq: npt.NDArray[np.int64]
    user: npt.NDArray[np.int32]
    amount_cents: npt.NDArray[np.int64]
    timestamp: npt.NDArray[np.int64]  # epoch ms, event time
    merchant: npt.NDArray[np.int32]
    category: npt.NDArray[np.int8]  # catalog.CATEGORY_NAMES
    channel: npt.NDArray[np.int8]  # catalog.CHANNELS
    card_type: npt.NDArray[np.int8]  # catalog.CARD_TYPES
    device: npt.NDArray[np.int64]
    ip: npt.NDArray[np.uint32]
    latitude: npt.NDArray[np.float64]  # where the user was (merchant if card-present, else IP)
    longitude: npt.NDArray[np.float64]
    merchant_latitude: npt.NDArray[np.float64]
    merchant_longitude: npt.NDArray[np.float64]
    country: npt.NDArray[np.int16]  # geography.COUNTRIES
    merchant_country: npt.NDArray[np.int16]
    currency: npt.NDArray[np.int16]  # geography.CURRENCIES
    pattern: npt.NDArray[np.int8]  # GROUND TRUTH: 0 legitimate, else catalog.PATTERN_NAMES

    @property
    def amount(self) -> npt.NDArray[np.float64]:
        return self.amount_cents / 100.0

    @property
    def is_fraud(self) -> npt.NDArray[np.bool_]:
        """Ground truth; never a feature."""
        return self.pattern != 0

    def pattern_counts(self) -> dict[str, int]:
        counts = np.bincount(self.pattern, minlength=len(PATTERN_NAMES))
        return {PATTERN_NAMES[code] or "legit": int(n) for code, n in enumerate(counts)}

    def sorted_by_time(self) -> TransactionBatch:
        """Rows in event-time order; ties keep their current order (deterministic)."""
        return self.take(np.argsort(self.timestamp, kind="stable"))


@dataclass(slots=True)
class FeedbackBatch(_Columns):
    """Delayed labels as columns; ``seq`` is the labelled transaction's ``seq``."""

    seq: npt.NDArray[np.int64]
    user: npt.NDArray[np.int32]
    merchant: npt.NDArray[np.int32]
    event_time: npt.NDArray[np.int64]
    fraud: npt.NDArray[np.bool_]  # the label as given (noisy labels may be wrong)
    source: npt.NDArray[np.int8]  # codes into labels.SOURCES
    confidence: npt.NDArray[np.float64]
    pattern: npt.NDArray[np.int8]  # the pattern the label names (0: none)
    label_time: npt.NDArray[np.int64]

    def sorted_by_label_time(self) -> FeedbackBatch:
        return self.take(np.argsort(self.label_time, kind="stable"))


_DTYPES: dict[str, Any] = {
    "seq": np.int64,
    "user": np.int32,
    "amount_cents": np.int64,
    "timestamp": np.int64,
    "merchant": np.int32,
    "category": np.int8,
    "channel": np.int8,
    "card_type": np.int8,
    "device": np.int64,
    "ip": np.uint32,
    "latitude": np.float64,
    "longitude": np.float64,
    "merchant_latitude": np.float64,
    "merchant_longitude": np.float64,
    "country": np.int16,
    "merchant_country": np.int16,
    "currency": np.int16,
    "pattern": np.int8,
    "event_time": np.int64,
    "fraud": np.bool_,
    "source": np.int8,
    "confidence": np.float64,
    "label_time": np.int64,
}
