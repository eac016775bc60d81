"""The naive reference: a per-message detector written the way most examples are.

Poll one message; decode it with the serde; read the user's profile with HGETALL on a Redis hash
per user (one field per profile attribute), the merchant's counters with HGETALL and the three
control flags with ZSCORE, each its own round trip; featurize one row with the same feature
code; score one row with the same model, rules and bands; encode the FraudScore (and the alert
of a risky one) with the generic serde; write the profile back with HSET and count the merchant
with HINCRBY; produce; commit that one message (a Kafka transaction per message for
exactly-once, flush + synchronous offset commit for at-least-once). It is slow by nature, so it
stops itself after ``max_records`` or ``max_seconds`` from its first message.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import numpy as np

from stream_sentinel.clients.backends import RealClients
from stream_sentinel.config import Settings
from stream_sentinel.detector import outputs
from stream_sentinel.detector.scorer import score_batch
from stream_sentinel.learning.models import champion_model
from stream_sentinel.learning.registry import ModelRegistry
from stream_sentinel.logic import merchants
from stream_sentinel.logic.columns import to_columns
from stream_sentinel.logic.features import MerchantStats, featurize
from stream_sentinel.logic.profile import DAY_MS, PROFILE_DTYPE, new_profiles
from stream_sentinel.logic.rules import ControlFlags
from stream_sentinel.state import keys
from stream_sentinel.state.base import Batch
from stream_sentinel.stream.loop import next_offsets
from stream_sentinel.transport.base import Record
from stream_sentinel.transport.topics import FRAUD_ALERTS, FRAUD_SCORES, TRANSACTIONS, Topics
from stream_sentinel.wire.serde import Serde

_FIELDS: tuple[str, ...] = PROFILE_DTYPE.names or ()


def profile_from_hash(fields: Mapping[str, bytes]) -> np.ndarray:
    """A one-row profile array from the hash (an empty profile for a new user)."""
    profiles = new_profiles(1)
    for name, raw in fields.items():
        if name in _FIELDS:
            kind = PROFILE_DTYPE[name]
            profiles[0][name] = np.frombuffer(raw, dtype=kind.base).reshape(kind.shape)
    return profiles


def profile_to_hash(profile: np.void) -> dict[str, bytes]:
    return {name: np.asarray(profile[name]).tobytes() for name in _FIELDS}


class NaiveDetector:
    """One message at a time, every step its own call."""

    def __init__(self, settings: Settings, slot: int) -> None:
        self.settings = settings
        self.topics = Topics.from_settings(settings)
        clients = RealClients(settings)
        self.backends = clients.backends()
        serde = Serde.from_settings(settings, clients.registry())
        self.decode = serde.decoder(TRANSACTIONS).decode
        self.encode_score = serde.encoder(FRAUD_SCORES)
        self.encode_alert = serde.encoder(FRAUD_ALERTS)
        alias = settings.detector.model_alias
        self.model = champion_model(ModelRegistry(self.backends.state), alias)
        self.exactly_once = settings.detector.guarantee == "exactly-once"
        broker = self.backends.broker
        txn_id = f"{settings.detector.group_id}-{slot}" if self.exactly_once else None
        self.producer = broker.producer(transactional_id=txn_id)
        if self.exactly_once:
            self.producer.init_transactions(30.0)
        self.consumer = broker.consumer(settings.detector.group_id)
        self.consumer.subscribe([self.topics.transactions])
        self.records = 0

    def poll(self) -> bool:
        records = self.consumer.consume(1, 0.1)
        if not records:
            return False
        self.handle(records[0])
        self.records += 1
        return True

    def handle(self, record: Record) -> None:
        tx = self.decode(record.value())
        user_key, merchant_id = keys.user_profile(tx["user_id"]), tx.get("merchant_id")
        profiles = profile_from_hash(self._one(Batch().hgetall(keys.PROFILES, user_key)))
        day = int(tx["timestamp"]) // DAY_MS
        columns = to_columns([tx])
        stats = MerchantStats.empty(len(columns.merchants))
        if merchant_id:
            fields = self._one(Batch().hgetall(keys.PIPELINE, keys.merchant(merchant_id)))
            stats = merchants.stats_for([fields], day)
        control = self._control(tx["user_id"])
        features = featurize(profiles, columns.tx, stats)
        scored = score_batch(features, control, self.model, self.settings)
        self._write_state(user_key, profiles[0], merchant_id, day)
        self._publish(record, tx, scored)

    def _one(self, batch: Batch) -> Any:
        return self.backends.state.execute(batch)[0]

    def _control(self, user_id: str) -> ControlFlags:
        now = time.time() * 1000
        flags = []
        for name in keys.CONTROL_SETS:
            expiry = self._one(Batch().zscore(keys.PIPELINE, name, user_id))
            flags.append(np.array([expiry is not None and expiry > now]))
        return ControlFlags(*flags)

    def _write_state(
        self, user_key: str, profile: np.void, merchant_id: str | None, day: int
    ) -> None:
        state = self.backends.state
        state.execute(Batch().hset(keys.PROFILES, user_key, profile_to_hash(profile)))
        if merchant_id:
            volume = merchants.field(merchants.VOLUME, day)
            state.execute(Batch().hincrby(keys.PIPELINE, keys.merchant(merchant_id), volume, 1))

    def _publish(self, record: Record, tx: dict[str, Any], scored: Any) -> None:
        decided = int(time.time() * 1000)
        score = outputs.fraud_score(
            tx, scored, 0, scored.reasons()[0], record.timestamp()[1], decided
        )
        key, producer = record.key(), self.producer
        if self.exactly_once:
            producer.begin_transaction()
        producer.produce(self.topics.fraud_scores, self.encode_score(score), key)
        if scored.outcome.alerts[0]:
            alert = outputs.fraud_alert(score, self.settings.alerts, decided)
            producer.produce(self.topics.fraud_alerts, self.encode_alert(alert), key)
        offsets = next_offsets([record], self.consumer)
        if self.exactly_once:
            producer.send_offsets_to_transaction(offsets, self.consumer.group_metadata(), 30.0)
            producer.commit_transaction(30.0)
        else:
            producer.flush(30.0)
            self.consumer.commit(offsets)

    def close(self) -> None:
        self.consumer.close()
        self.producer.close()
        self.backends.close()


def naive_target(
    slot: int, messages: Any, stop: Any, settings: Settings, max_records: int, max_seconds: float
) -> dict[str, Any]:
    """Run until ``max_records``, ``max_seconds`` after the first message, or told to stop."""
    naive = NaiveDetector(settings, slot)
    first: float | None = None
    try:
        while not stop.is_set() and naive.records < max_records:
            if naive.poll() and first is None:
                first = time.monotonic()
            if first is not None and time.monotonic() - first >= max_seconds:
                break
    finally:
        naive.close()
    elapsed = time.monotonic() - first if first is not None else 0.0
    return {"records": naive.records, "elapsed_s": round(elapsed, 3)}
