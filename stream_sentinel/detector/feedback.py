"""Labels flowing back: the detector's feedback consumer (its own group, in the detector process).

Each `Feedback` record (chargeback, analyst verdict, customer report) updates the merchant's
label counters for the transaction's event day — what the merchant fraud-rate features read —
and is kept in the feedback store (DB2, ``feedback:{transaction_id}``) for the learning plane.
It runs on the shared loop, so a label is counted exactly once even across crashes and
rebalances (the partition watermark guards the increments).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from stream_sentinel.logic import merchants
from stream_sentinel.logic.profile import DAY_MS
from stream_sentinel.state import keys
from stream_sentinel.state.base import Batch, StateStore
from stream_sentinel.stream.deadletters import LetterBudget, build_letter
from stream_sentinel.stream.loop import Step
from stream_sentinel.transport.base import Record
from stream_sentinel.transport.topics import DEAD_LETTER, FRAUD_FEEDBACK, Topics
from stream_sentinel.wire.serde import Serde

FEEDBACK_TTL_MS = 90 * DAY_MS
COMPONENT = "detector-feedback"


class FeedbackHandler:
    """Applies labels to merchant state and the feedback store.

    A transaction labelled twice (a chargeback after an analyst verdict) counts once; when the
    second label differs, the merchant's fraud count moves to match the latest label.
    """

    def __init__(self, serde: Serde, topics: Topics, store: StateStore, now_ms: Any) -> None:
        self._decoder = serde.decoder(FRAUD_FEEDBACK)
        self._encode_dead = serde.encoder(DEAD_LETTER)
        self._topics = topics
        self._store = store
        self._now_ms = now_ms
        self.labels: Counter[str] = Counter()
        self.dead_letters = 0
        self.letter_budget = LetterBudget()

    def handle(self, records: Sequence[Record], applies: np.ndarray, emit: bool) -> Step:
        decoded, failures = self._decoder.decode_many([r.value() for r in records])
        step = Step()
        for failure in failures:
            record = records[failure.index]
            if emit:
                step.outputs.append(self._dead_letter(record, failure.kind, failure.reason))
            self.dead_letters += 1
        known = self._known_labels([d["transaction_id"] for d in decoded if d is not None])
        for record, label, apply in zip(records, decoded, applies, strict=True):
            if label is None or not apply:
                continue
            batch = step.state.setdefault(record.partition() or 0, Batch())
            previous = known.get(label["transaction_id"])
            _apply_label(batch, label, previous)
            known[label["transaction_id"]] = label["label"]
            if emit:
                self.labels[label["label"]] += 1
        return step

    def _known_labels(self, transaction_ids: list[str]) -> dict[str, str]:
        """The label already stored for each transaction (one round trip)."""
        batch = Batch()
        for transaction_id in transaction_ids:
            batch.hget(keys.FEEDBACK, keys.feedback(transaction_id), "label")
        replies = self._store.execute(batch) if transaction_ids else []
        return {t: r.decode() for t, r in zip(transaction_ids, replies, strict=True) if r}

    def _dead_letter(
        self, record: Record, kind: str, reason: str
    ) -> tuple[str, bytes | None, bytes]:
        key, letter = build_letter(
            record,
            kind,
            reason,
            self._now_ms(),
            COMPONENT,
            self.letter_budget,
            self._topics.fraud_feedback,
        )
        return (self._topics.dead_letter, key, self._encode_dead(letter))

    def committed(self, step: Step, applied: dict[int, bool]) -> None:
        return None

    def forget(self, partitions: list[int]) -> None:
        return None


def _apply_label(batch: Batch, label: dict[str, Any], previous: str | None) -> None:
    day = int(label["event_time"]) // DAY_MS
    merchant_id = label.get("merchant_id")
    if merchant_id:
        key = keys.merchant(merchant_id)
        if previous is None:
            batch.hincrby(keys.PIPELINE, key, merchants.field(merchants.LABELS, day), 1)
        fraud_change = (label["label"] == "FRAUD") - (previous == "FRAUD")
        if fraud_change:
            batch.hincrby(keys.PIPELINE, key, merchants.field(merchants.FRAUD, day), fraud_change)
    batch.hset(
        keys.FEEDBACK,
        keys.feedback(label["transaction_id"]),
        {
            "user_id": label["user_id"],
            "label": label["label"],
            "source": label["source"],
            "confidence": float(label["confidence"]),
            "pattern": label.get("pattern") or "",
            "event_time": int(label["event_time"]),
            "label_time": int(label["label_time"]),
        },
    )
    batch.pexpire(keys.FEEDBACK, keys.feedback(label["transaction_id"]), FEEDBACK_TTL_MS)
