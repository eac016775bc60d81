"""Domain objects <-> Avro dicts <-> bytes, for every record of the contracts."""

from __future__ import annotations

from typing import Any

import pytest

from stream_sentinel.domain import (
    Action,
    CardType,
    Channel,
    Contribution,
    DeadLetter,
    Decision,
    DecisionFeatures,
    Feedback,
    FeedbackSource,
    FraudAlert,
    FraudScore,
    Label,
    ModelEvent,
    ModelEventType,
    RiskLevel,
    Transaction,
    UserAction,
)
from stream_sentinel.errors import SerializationError
from stream_sentinel.registry_server.local_client import LocalRegistryClient
from stream_sentinel.wire.records import RECORD_NAMES, from_dict, to_dict
from stream_sentinel.wire.schemas import latest_for_topic
from stream_sentinel.wire.serde import Serde

CONTRIBUTIONS = [Contribution("amount_z", 1.25), Contribution("velocity_1h", -0.5)]

SAMPLES: dict[str, Any] = {
    "transactions": Transaction(
        "tx-1",
        "user-1",
        99.95,
        1_700_000_000_000,
        currency="USD",
        merchant_id="m-1",
        merchant_category="electronics",
        channel=Channel.ONLINE,
        card_type=CardType.PREPAID,
        device_id="dev-1",
        ip_address="192.0.2.1",
        latitude=40.7,
        longitude=-74.0,
        merchant_latitude=40.8,
        merchant_longitude=-73.9,
        country="US",
        merchant_country="CA",
        metadata={"campaign": "spring"},
    ),
    "fraud-scores": FraudScore(
        "tx-1",
        "user-1",
        "m-1",
        99.95,
        1_700_000_000_000,
        1_700_000_000_010,
        1_700_000_000_020,
        0.87,
        RiskLevel.HIGH,
        Decision.CHALLENGE,
        "lgbm-3",
        ["high_amount_vs_average"],
        CONTRIBUTIONS,
    ),
    "fraud-alerts": FraudAlert(
        "alert-tx-1",
        "tx-1",
        "user-1",
        None,
        99.95,
        0.87,
        RiskLevel.CRITICAL,
        ["impossible_travel"],
        CONTRIBUTIONS,
        [Action.BLOCK_USER, Action.OPEN_CASE],
        1_700_000_000_000,
        1_700_000_000_010,
        1_700_000_000_030,
    ),
    "user-actions": UserAction(
        "act-1",
        "user-1",
        Action.STEP_UP,
        "alert-tx-1",
        "tx-1",
        "HIGH alert",
        1_700_000_000_040,
        1_700_086_400_040,
    ),
    "fraud-feedback": Feedback(
        "tx-1",
        "user-1",
        "m-1",
        1_700_000_000_000,
        Label.FRAUD,
        FeedbackSource.CHARGEBACK,
        1.0,
        "account_takeover",
        1_702_000_000_000,
    ),
    "dead-letter": DeadLetter(
        "transactions",
        3,
        1234,
        b"user-1",
        b"\x07\x00garbage\xff",
        "unknown magic byte 7",
        "bad_magic",
        1_700_000_000_050,
        "detector",
    ),
    "model-events": ModelEvent(
        "lgbm-3",
        ModelEventType.PROMOTED,
        "models/lgbm-3.txt",
        {"auc": 0.93, "ap": 0.41},
        1_700_000_000_060,
        alias="champion",
        previous_version="lgbm-2",
        move=3,
        reason="better AP on the last week",
        actor="cli:ana",
    ),
    "decision-features": DecisionFeatures(
        "tx-1",
        "user-1",
        1_700_000_000_000,
        1_700_000_000_040,
        "m-93dc44381b52",
        "live",
        "0123456789abcdef",
        [25.0, 3.258, 1.0, 0.0, -1.5],
        0.87,
        RiskLevel.HIGH,
        Decision.CHALLENGE,
        7,
        1234,
    ),
}


@pytest.mark.parametrize("topic", SAMPLES)
def test_every_domain_record_round_trips_through_avro(topic: str) -> None:
    serde = Serde(LocalRegistryClient.in_memory())
    original = SAMPLES[topic]
    payload = serde.encoder(topic)(to_dict(original))
    decoded = serde.decoder(topic).decode(payload)
    assert decoded == to_dict(original)
    assert from_dict(type(original), decoded) == original
    assert RECORD_NAMES[type(original)] == latest_for_topic(topic).name


@pytest.mark.parametrize("topic", SAMPLES)
def test_every_domain_record_round_trips_through_json(topic: str) -> None:
    serde = Serde(LocalRegistryClient.in_memory(), json_topics=[topic])
    original = SAMPLES[topic]
    decoded = serde.decoder(topic).decode(serde.encoder(topic)(to_dict(original)))
    assert from_dict(type(original), decoded) == original


def test_enums_travel_as_their_symbols() -> None:
    score = to_dict(SAMPLES["fraud-scores"])
    assert (score["risk_level"], score["decision"]) == ("HIGH", "CHALLENGE")
    assert to_dict(SAMPLES["fraud-alerts"])["recommended_actions"] == ["BLOCK_USER", "OPEN_CASE"]
    assert from_dict(FraudScore, score).risk_level is RiskLevel.HIGH


def test_a_v1_transaction_dict_becomes_a_transaction_with_defaults() -> None:
    v1 = {"transaction_id": "t", "user_id": "u", "amount": 1.0, "timestamp": 2}
    assert from_dict(Transaction, v1) == Transaction("t", "u", 1.0, 2)


def test_values_are_not_coerced_so_validation_sees_them() -> None:
    bad = Transaction("t", "u", "12", 2)  # type: ignore[arg-type]
    assert to_dict(bad)["amount"] == "12"
    with pytest.raises(SerializationError, match="field amount: expected double, got str '12'"):
        Serde(LocalRegistryClient.in_memory()).encoder("transactions")(to_dict(bad))


def test_unmapped_types_and_incomplete_dicts_are_clear_errors() -> None:
    with pytest.raises(SerializationError, match="no Avro mapping for str"):
        to_dict("not a record")
    with pytest.raises(SerializationError, match="no Avro mapping for dict"):
        from_dict(dict, {})
    with pytest.raises(SerializationError, match="FraudScore record lacks field 'transaction_id'"):
        from_dict(FraudScore, {})
    with pytest.raises(
        SerializationError, match="UserAction record has a bad value: 'FLY' is not a valid Action"
    ):
        from_dict(UserAction, {**to_dict(SAMPLES["user-actions"]), "action": "FLY"})
