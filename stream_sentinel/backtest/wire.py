"""A history's rows as the records a live producer would send: Transaction v2 and Feedback.

Transactions go through the column codec (:mod:`stream_sentinel.wire.columnar`: Avro in
Confluent's wire format, built for a whole slice at once); the first record is checked byte for
byte against the validating serde, so the fast path can never drift from the schema. For a
topic configured as JSON the serde encodes record by record. Feedback records are few (one per
fraud) and use the serde.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from stream_sentinel.backtest.history import History
from stream_sentinel.backtest.mapping import NUMBER_FIELDS, SYMBOLS, TEXT_FIELDS
from stream_sentinel.domain import FeedbackSource, Label
from stream_sentinel.errors import SerializationError
from stream_sentinel.transport.topics import FRAUD_FEEDBACK, TRANSACTIONS
from stream_sentinel.wire.columnar import AvroColumnCodec, Column, Double, Long, Symbol, Text
from stream_sentinel.wire.schemas import compile_plan
from stream_sentinel.wire.serde import AvroEncoder, Serde
from stream_sentinel.wire.textcodec import Bytes2D, Piece


@dataclass(frozen=True, slots=True)
class NullableDouble(Double[History]):
    """A ``["null", "double"]`` column: NaN rows are written as null."""

    null: Callable[[History], npt.NDArray[np.bool_]] | None = None


def _utf8(values: Sequence[str | None]) -> Bytes2D:
    """NUL-padded UTF-8 bytes, one row per value (None and "" are empty rows)."""
    encoded = np.array([(v or "").encode() for v in values], dtype=bytes)
    width = max(encoded.dtype.itemsize, 1)
    return encoded.astype(f"S{width}").view(np.uint8).reshape(len(values), width)


def _text(name: str) -> Text[History]:
    def render(h: History) -> list[Piece]:
        return [_utf8(h.text.get(name) or [None] * len(h))]

    def null(h: History) -> npt.NDArray[np.bool_]:
        values = h.text.get(name)
        if values is None:
            return np.ones(len(h), dtype=bool)
        return np.array([v is None for v in values], dtype=bool)

    return Text(render, null)


def _number(name: str) -> NullableDouble:
    def render(h: History) -> npt.NDArray[np.float64]:
        values = h.numbers.get(name)
        return np.zeros(len(h)) if values is None else np.nan_to_num(values)

    def null(h: History) -> npt.NDArray[np.bool_]:
        values = h.numbers.get(name)
        return np.ones(len(h), dtype=bool) if values is None else np.isnan(values)

    return NullableDouble(render, null)


def _symbol(name: str) -> Symbol[History]:
    symbols, default = SYMBOLS[name]
    fallback = symbols.index(default)

    def render(h: History) -> npt.NDArray[np.int8]:
        codes = h.symbols.get(name)
        return np.full(len(h), fallback, dtype=np.int8) if codes is None else codes

    return Symbol(render, symbols)


def transaction_columns() -> dict[str, Column[History]]:
    columns: dict[str, Column[History]] = {
        "transaction_id": Text(lambda h: [_utf8(h.transaction_id)]),
        "user_id": Text(lambda h: [_utf8(h.user_id)]),
        "amount": Double(lambda h: h.amount),
        "timestamp": Long(lambda h: h.timestamp),
    }
    columns |= {name: _text(name) for name in TEXT_FIELDS}
    columns |= {name: _number(name) for name in NUMBER_FIELDS}
    columns |= {name: _symbol(name) for name in SYMBOLS}
    return columns


def transaction_dict(history: History, row: int) -> dict[str, Any]:
    """One row as the Avro dict a per-record producer would send."""
    record: dict[str, Any] = {
        "transaction_id": history.transaction_id[row],
        "user_id": history.user_id[row],
        "amount": float(history.amount[row]),
        "timestamp": int(history.timestamp[row]),
        "metadata": {},
    }
    for name in TEXT_FIELDS:
        record[name] = history.text[name][row] if name in history.text else None
    for name in NUMBER_FIELDS:
        value = history.numbers[name][row] if name in history.numbers else np.nan
        record[name] = None if np.isnan(value) else float(value)
    for name, (symbols, default) in SYMBOLS.items():
        codes = history.symbols.get(name)
        record[name] = default if codes is None else symbols[int(codes[row])]
    return record


class TransactionWire:
    """Encodes slices of a history into ``transactions`` record values."""

    def __init__(self, serde: Serde) -> None:
        self._encoder = serde.encoder(TRANSACTIONS)
        self._codec: AvroColumnCodec[History] | None = None
        if isinstance(self._encoder, AvroEncoder):
            plan = compile_plan(serde.schema(TRANSACTIONS).text)
            self._codec = AvroColumnCodec(plan, transaction_columns(), self._encoder.schema_id)
        self._checked = False

    def values(self, window: History) -> list[bytes]:
        if not len(window):
            return []
        if self._codec is None:  # a JSON topic: the serde, record by record
            return [self._encoder(transaction_dict(window, row)) for row in range(len(window))]
        values = self._codec.records(window, len(window))
        if not self._checked:
            self._check_first(window, values[0])
        return values

    def _check_first(self, window: History, value: bytes) -> None:
        expected = self._encoder(transaction_dict(window, 0))
        if expected != value:
            raise SerializationError(
                f"the backtest's Avro encoding of {window.transaction_id[0]!r} differs from the "
                "serde's; nothing was sent (did the Transaction schema change?)"
            )
        self._checked = True


class FeedbackWire:
    """Chargebacks: a FRAUD ``Feedback`` record for a fraud row, released at ``label_time``."""

    def __init__(self, serde: Serde) -> None:
        self._encoder = serde.encoder(FRAUD_FEEDBACK)

    def value(self, history: History, row: int, label_time: int) -> bytes:
        return self._encoder(self.record(history, row, label_time))

    @staticmethod
    def record(history: History, row: int, label_time: int) -> dict[str, Any]:
        """The Feedback record of a fraud row (what the learner's intake decodes)."""
        merchants = history.text.get("merchant_id")
        return {
            "transaction_id": history.transaction_id[row],
            "user_id": history.user_id[row],
            "merchant_id": merchants[row] if merchants is not None else None,
            "event_time": int(history.timestamp[row]),
            "label": Label.FRAUD.value,
            "source": FeedbackSource.CHARGEBACK.value,
            "confidence": 1.0,
            "pattern": None,
            "label_time": label_time,
        }
