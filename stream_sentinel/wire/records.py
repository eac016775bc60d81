"""Conversion hooks between the domain dataclasses and Avro-shaped dicts.

Domain objects never see Avro: the serde works on plain dicts, and these functions are the only
place that knows both shapes. Enums travel as their Avro symbol (``RiskLevel.HIGH`` -> ``"HIGH"``);
optional fields absent from an older schema version take the dataclass default. Values are not
coerced (``"12"`` stays a string), so the serde's validation sees what the caller really passed.

>>> from stream_sentinel.domain import Contribution
>>> to_dict(Contribution("amount_z", 0.25))
{'feature': 'amount_z', 'value': 0.25}
>>> from_dict(Contribution, {"feature": "amount_z", "value": 0.25})
Contribution(feature='amount_z', value=0.25)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar, cast

from stream_sentinel.domain import (
    Action,
    CardType,
    Channel,
    Contribution,
    DeadLetter,
    Decision,
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

T = TypeVar("T")
AvroDict = dict[str, Any]


def _contributions_to(items: list[Contribution]) -> list[AvroDict]:
    return [{"feature": item.feature, "value": item.value} for item in items]


def _contributions_from(items: list[Mapping[str, Any]]) -> list[Contribution]:
    return [Contribution(item["feature"], item["value"]) for item in items]


def transaction_to_dict(tx: Transaction) -> AvroDict:
    """A Transaction as a v2 record."""
    return {
        "transaction_id": tx.transaction_id,
        "user_id": tx.user_id,
        "amount": tx.amount,
        "timestamp": tx.timestamp,
        "currency": tx.currency,
        "merchant_id": tx.merchant_id,
        "merchant_category": tx.merchant_category,
        "channel": Channel(tx.channel).value,
        "card_type": CardType(tx.card_type).value,
        "device_id": tx.device_id,
        "ip_address": tx.ip_address,
        "latitude": tx.latitude,
        "longitude": tx.longitude,
        "merchant_latitude": tx.merchant_latitude,
        "merchant_longitude": tx.merchant_longitude,
        "country": tx.country,
        "merchant_country": tx.merchant_country,
        "metadata": dict(tx.metadata),
    }


def transaction_from_dict(data: Mapping[str, Any]) -> Transaction:
    """A Transaction from a v1 or v2 record (v2 fields default when absent)."""
    get = data.get
    return Transaction(
        transaction_id=data["transaction_id"],
        user_id=data["user_id"],
        amount=data["amount"],
        timestamp=data["timestamp"],
        currency=get("currency"),
        merchant_id=get("merchant_id"),
        merchant_category=get("merchant_category"),
        channel=Channel(get("channel") or Channel.OTHER),
        card_type=CardType(get("card_type") or CardType.UNKNOWN),
        device_id=get("device_id"),
        ip_address=get("ip_address"),
        latitude=get("latitude"),
        longitude=get("longitude"),
        merchant_latitude=get("merchant_latitude"),
        merchant_longitude=get("merchant_longitude"),
        country=get("country"),
        merchant_country=get("merchant_country"),
        metadata=dict(get("metadata") or {}),
    )


def fraud_score_to_dict(score: FraudScore) -> AvroDict:
    return {
        "transaction_id": score.transaction_id,
        "user_id": score.user_id,
        "merchant_id": score.merchant_id,
        "amount": score.amount,
        "event_time": score.event_time,
        "produced_time": score.produced_time,
        "decided_time": score.decided_time,
        "score": score.score,
        "risk_level": RiskLevel(score.risk_level).name,
        "decision": Decision(score.decision).value,
        "model_version": score.model_version,
        "reasons": list(score.reasons),
        "contributions": _contributions_to(score.contributions),
    }


def fraud_score_from_dict(data: Mapping[str, Any]) -> FraudScore:
    return FraudScore(
        transaction_id=data["transaction_id"],
        user_id=data["user_id"],
        merchant_id=data.get("merchant_id"),
        amount=data["amount"],
        event_time=data["event_time"],
        produced_time=data["produced_time"],
        decided_time=data["decided_time"],
        score=data["score"],
        risk_level=RiskLevel[data["risk_level"]],
        decision=Decision(data["decision"]),
        model_version=data.get("model_version"),
        reasons=list(data.get("reasons") or []),
        contributions=_contributions_from(data.get("contributions") or []),
    )


def fraud_alert_to_dict(alert: FraudAlert) -> AvroDict:
    return {
        "alert_id": alert.alert_id,
        "transaction_id": alert.transaction_id,
        "user_id": alert.user_id,
        "merchant_id": alert.merchant_id,
        "amount": alert.amount,
        "score": alert.score,
        "severity": RiskLevel(alert.severity).name,
        "reasons": list(alert.reasons),
        "contributions": _contributions_to(alert.contributions),
        "recommended_actions": [Action(action).value for action in alert.recommended_actions],
        "event_time": alert.event_time,
        "produced_time": alert.produced_time,
        "alert_time": alert.alert_time,
    }


def fraud_alert_from_dict(data: Mapping[str, Any]) -> FraudAlert:
    return FraudAlert(
        alert_id=data["alert_id"],
        transaction_id=data["transaction_id"],
        user_id=data["user_id"],
        merchant_id=data.get("merchant_id"),
        amount=data["amount"],
        score=data["score"],
        severity=RiskLevel[data["severity"]],
        reasons=list(data.get("reasons") or []),
        contributions=_contributions_from(data.get("contributions") or []),
        recommended_actions=[Action(action) for action in data.get("recommended_actions") or []],
        event_time=data["event_time"],
        produced_time=data["produced_time"],
        alert_time=data["alert_time"],
    )


def user_action_to_dict(action: UserAction) -> AvroDict:
    return {
        "action_id": action.action_id,
        "user_id": action.user_id,
        "action": Action(action.action).value,
        "alert_id": action.alert_id,
        "transaction_id": action.transaction_id,
        "reason": action.reason,
        "created_time": action.created_time,
        "expires_time": action.expires_time,
    }


def user_action_from_dict(data: Mapping[str, Any]) -> UserAction:
    return UserAction(
        action_id=data["action_id"],
        user_id=data["user_id"],
        action=Action(data["action"]),
        alert_id=data.get("alert_id"),
        transaction_id=data.get("transaction_id"),
        reason=data["reason"],
        created_time=data["created_time"],
        expires_time=data.get("expires_time"),
    )


def feedback_to_dict(feedback: Feedback) -> AvroDict:
    return {
        "transaction_id": feedback.transaction_id,
        "user_id": feedback.user_id,
        "merchant_id": feedback.merchant_id,
        "event_time": feedback.event_time,
        "label": Label(feedback.label).value,
        "source": FeedbackSource(feedback.source).value,
        "confidence": feedback.confidence,
        "pattern": feedback.pattern,
        "label_time": feedback.label_time,
    }


def feedback_from_dict(data: Mapping[str, Any]) -> Feedback:
    return Feedback(
        transaction_id=data["transaction_id"],
        user_id=data["user_id"],
        merchant_id=data.get("merchant_id"),
        event_time=data["event_time"],
        label=Label(data["label"]),
        source=FeedbackSource(data.get("source") or FeedbackSource.OTHER),
        confidence=data["confidence"],
        pattern=data.get("pattern"),
        label_time=data["label_time"],
    )


def dead_letter_to_dict(letter: DeadLetter) -> AvroDict:
    return {
        "source_topic": letter.source_topic,
        "partition": letter.partition,
        "offset": letter.offset,
        "key": letter.key,
        "value": letter.value,
        "reason": letter.reason,
        "error_type": letter.error_type,
        "failed_time": letter.failed_time,
        "component": letter.component,
        "key_size": letter.key_size,
        "value_size": letter.value_size,
    }


def dead_letter_from_dict(data: Mapping[str, Any]) -> DeadLetter:
    return DeadLetter(
        source_topic=data["source_topic"],
        partition=data["partition"],
        offset=data["offset"],
        key=data.get("key"),
        value=data["value"],
        reason=data["reason"],
        error_type=data["error_type"],
        failed_time=data["failed_time"],
        component=data["component"],
        key_size=data.get("key_size"),
        value_size=data.get("value_size"),
    )


def model_event_to_dict(event: ModelEvent) -> AvroDict:
    return {
        "model_version": event.model_version,
        "event": ModelEventType(event.event).value,
        "artifact_uri": event.artifact_uri,
        "metrics": dict(event.metrics),
        "time": event.time,
    }


def model_event_from_dict(data: Mapping[str, Any]) -> ModelEvent:
    return ModelEvent(
        model_version=data["model_version"],
        event=ModelEventType(data["event"]),
        artifact_uri=data["artifact_uri"],
        metrics=dict(data.get("metrics") or {}),
        time=data["time"],
    )


def contribution_to_dict(item: Contribution) -> AvroDict:
    return {"feature": item.feature, "value": item.value}


def contribution_from_dict(data: Mapping[str, Any]) -> Contribution:
    return Contribution(data["feature"], data["value"])


_TO_DICT: dict[type, Callable[[Any], AvroDict]] = {
    Transaction: transaction_to_dict,
    FraudScore: fraud_score_to_dict,
    FraudAlert: fraud_alert_to_dict,
    UserAction: user_action_to_dict,
    Feedback: feedback_to_dict,
    DeadLetter: dead_letter_to_dict,
    ModelEvent: model_event_to_dict,
    Contribution: contribution_to_dict,
}

_FROM_DICT: dict[type, Callable[[Mapping[str, Any]], Any]] = {
    Transaction: transaction_from_dict,
    FraudScore: fraud_score_from_dict,
    FraudAlert: fraud_alert_from_dict,
    UserAction: user_action_from_dict,
    Feedback: feedback_from_dict,
    DeadLetter: dead_letter_from_dict,
    ModelEvent: model_event_from_dict,
    Contribution: contribution_from_dict,
}

#: Which bundled record (Avro name) each domain class is written as.
RECORD_NAMES: dict[type, str] = {
    Transaction: "Transaction",
    FraudScore: "FraudScore",
    FraudAlert: "FraudAlert",
    UserAction: "UserAction",
    Feedback: "Feedback",
    DeadLetter: "DeadLetter",
    ModelEvent: "ModelEvent",
}


def to_dict(obj: object) -> AvroDict:
    """The Avro-shaped dict of a domain object."""
    convert = _TO_DICT.get(type(obj))
    if convert is None:
        raise SerializationError(f"no Avro mapping for {type(obj).__name__}")
    return convert(obj)


def from_dict(cls: type[T], data: Mapping[str, Any]) -> T:
    """A domain object of ``cls`` from a decoded record; bad input raises SerializationError."""
    convert = _FROM_DICT.get(cls)
    if convert is None:
        raise SerializationError(f"no Avro mapping for {cls.__name__}")
    try:
        return cast(T, convert(data))
    except KeyError as exc:
        raise SerializationError(f"{cls.__name__} record lacks field {exc.args[0]!r}") from None
    except ValueError as exc:
        raise SerializationError(f"{cls.__name__} record has a bad value: {exc}") from None
