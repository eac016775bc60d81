"""Which batch column feeds which Avro field, for Transaction and Feedback records (the bytes:
:mod:`stream_sentinel.wire.columnar`; ``metadata`` is left to its schema default, ``{}``)."""

from __future__ import annotations

import numpy as np

from stream_sentinel.domain import Label
from stream_sentinel.generator import catalog
from stream_sentinel.generator.batch import FeedbackBatch, TransactionBatch
from stream_sentinel.generator.labels import SOURCES
from stream_sentinel.generator.textlayout import identifier, text_renderers
from stream_sentinel.wire.columnar import Column, Double, Long, Symbol, Text
from stream_sentinel.wire.textcodec import digits, vocabulary


def transaction_columns(id_prefix: str) -> dict[str, Column[TransactionBatch]]:
    text = text_renderers(id_prefix)
    columns: dict[str, Column[TransactionBatch]] = {
        name: Text(text[name])
        for name in (
            "transaction_id",
            "user_id",
            "currency",
            "merchant_id",
            "merchant_category",
            "device_id",
            "ip_address",
            "country",
            "merchant_country",
        )
    }
    columns |= {
        "amount": Double(lambda b: b.amount),
        "timestamp": Long(lambda b: b.timestamp),
        "channel": Symbol(lambda b: b.channel, [c.value for c in catalog.CHANNELS]),
        "card_type": Symbol(lambda b: b.card_type, [c.value for c in catalog.CARD_TYPES]),
        "latitude": Double(lambda b: b.latitude),
        "longitude": Double(lambda b: b.longitude),
        "merchant_latitude": Double(lambda b: b.merchant_latitude),
        "merchant_longitude": Double(lambda b: b.merchant_longitude),
    }
    return columns


def feedback_columns(id_prefix: str) -> dict[str, Column[FeedbackBatch]]:
    prefix = id_prefix.encode()
    patterns = vocabulary(catalog.PATTERN_NAMES)
    return {
        "transaction_id": Text(lambda f: [prefix, digits(f.seq, 10)]),
        "user_id": Text(lambda f: identifier("user", f.user)),
        "merchant_id": Text(lambda f: identifier("merchant", f.merchant)),
        "event_time": Long(lambda f: f.event_time),
        "label": Symbol(lambda f: np.where(f.fraud, 0, 1), [Label.FRAUD.value, Label.LEGIT.value]),
        "source": Symbol(lambda f: f.source, [s.value for s in SOURCES]),
        "confidence": Double(lambda f: f.confidence),
        "pattern": Text(lambda f: [patterns[f.pattern]], null=lambda f: f.pattern == 0),
        "label_time": Long(lambda f: f.label_time),
    }
