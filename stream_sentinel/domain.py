"""The fraud domain as plain values: enums and dataclasses, no I/O and no Avro.

The enums here are the single source of truth; the Avro schemas carry copies that a unit test
compares symbol by symbol. Conversion to and from Avro dicts lives in
:mod:`stream_sentinel.wire.records`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class RiskLevel(enum.IntEnum):
    """Ordered risk tiers: comparisons such as ``level >= RiskLevel.MEDIUM`` are meaningful."""

    MINIMAL = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4

    @classmethod
    def _missing_(cls, value: object) -> RiskLevel | None:
        # Accept names ("HIGH", "high") as well as numbers, for settings and the CLI.
        if isinstance(value, str):
            name = value.strip().upper()
            if name in cls.__members__:
                return cls[name]
            if name.isdigit():
                return cls(int(name))
        return None


class Decision(enum.StrEnum):
    APPROVE = "APPROVE"
    CHALLENGE = "CHALLENGE"  # step-up authentication
    REVIEW = "REVIEW"
    DECLINE = "DECLINE"


class Action(enum.StrEnum):
    MONITOR = "MONITOR"
    WATCH = "WATCH"
    STEP_UP = "STEP_UP"
    OPEN_CASE = "OPEN_CASE"
    INVESTIGATE = "INVESTIGATE"
    BLOCK_USER = "BLOCK_USER"
    UNBLOCK_USER = "UNBLOCK_USER"
    NOTIFY = "NOTIFY"


class Channel(enum.StrEnum):
    ONLINE = "ONLINE"
    POS = "POS"
    ATM = "ATM"
    MOBILE = "MOBILE"
    OTHER = "OTHER"


class CardType(enum.StrEnum):
    CREDIT = "CREDIT"
    DEBIT = "DEBIT"
    PREPAID = "PREPAID"
    UNKNOWN = "UNKNOWN"


class Label(enum.StrEnum):
    FRAUD = "FRAUD"
    LEGIT = "LEGIT"


class FeedbackSource(enum.StrEnum):
    CHARGEBACK = "CHARGEBACK"
    ANALYST = "ANALYST"
    CUSTOMER = "CUSTOMER"
    OTHER = "OTHER"


class ModelEventType(enum.StrEnum):
    REGISTERED = "REGISTERED"
    PROMOTED = "PROMOTED"
    ROLLED_BACK = "ROLLED_BACK"
    RETIRED = "RETIRED"


#: The Avro ``default`` symbol of each enum: what an old reader maps an unknown new symbol to.
ENUM_DEFAULTS: dict[type[enum.Enum], str] = {
    RiskLevel: "MINIMAL",
    Decision: "REVIEW",
    Action: "MONITOR",
    Channel: "OTHER",
    CardType: "UNKNOWN",
    Label: "LEGIT",
    FeedbackSource: "OTHER",
    ModelEventType: "REGISTERED",
}


@dataclass(slots=True)
class Transaction:
    """One card/payment transaction as it arrives on the ``transactions`` topic (schema v2)."""

    transaction_id: str
    user_id: str
    amount: float
    timestamp: int  # epoch milliseconds (event time)
    currency: str | None = None
    merchant_id: str | None = None
    merchant_category: str | None = None
    channel: Channel = Channel.OTHER
    card_type: CardType = CardType.UNKNOWN
    device_id: str | None = None
    ip_address: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    merchant_latitude: float | None = None
    merchant_longitude: float | None = None
    country: str | None = None
    merchant_country: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True, frozen=True)
class Contribution:
    """One feature's additive contribution to a model score (LightGBM SHAP-style values)."""

    feature: str
    value: float


@dataclass(slots=True)
class FraudScore:
    """The decision for one transaction, published on ``fraud-scores`` for every transaction."""

    transaction_id: str
    user_id: str
    merchant_id: str | None
    amount: float
    event_time: int
    produced_time: int
    decided_time: int
    score: float
    risk_level: RiskLevel
    decision: Decision
    model_version: str | None
    reasons: list[str] = field(default_factory=list)
    contributions: list[Contribution] = field(default_factory=list)
    #: (version 2) The experiment running when it was decided, and who decided (0 champion).
    experiment_id: str | None = None
    arm: int | None = None


@dataclass(slots=True)
class FraudAlert:
    """A risky decision, published on ``fraud-alerts`` for the alert processor."""

    alert_id: str
    transaction_id: str
    user_id: str
    merchant_id: str | None
    amount: float
    score: float
    severity: RiskLevel
    reasons: list[str]
    contributions: list[Contribution]
    recommended_actions: list[Action]
    event_time: int
    produced_time: int
    alert_time: int


@dataclass(slots=True)
class UserAction:
    """An action taken on a user, published on ``user-actions``."""

    action_id: str
    user_id: str
    action: Action
    alert_id: str | None
    transaction_id: str | None
    reason: str
    created_time: int
    expires_time: int | None = None


@dataclass(slots=True)
class Feedback:
    """A ground-truth label for a past transaction (chargeback, analyst verdict, customer)."""

    transaction_id: str
    user_id: str
    merchant_id: str | None
    event_time: int
    label: Label
    source: FeedbackSource
    confidence: float
    pattern: str | None
    label_time: int


@dataclass(slots=True)
class DeadLetter:
    """A record some consumer could not process, kept byte for byte with the reason."""

    source_topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    reason: str
    error_type: str
    failed_time: int
    component: str
    key_size: int | None = None  # set when only the key's first bytes are kept
    value_size: int | None = None  # set when only the value's first bytes are kept


@dataclass(slots=True)
class ModelEvent:
    """A model lifecycle event on the compacted ``model-events`` topic."""

    model_version: str
    event: ModelEventType
    artifact_uri: str
    metrics: dict[str, float]
    time: int
    alias: str | None = None  # v2: the alias move this event announces
    previous_version: str | None = None
    move: int = 0
    reason: str = ""
    actor: str = ""


@dataclass(slots=True)
class DecisionFeatures:
    """The feature vector one decision was made on, on ``decision-features`` (the feature log).

    ``features`` follows the feature set named by ``feature_set`` / ``feature_set_hash``."""

    transaction_id: str
    user_id: str
    event_time: int
    decided_time: int
    model_version: str | None
    feature_set: str
    feature_set_hash: str
    features: list[float]
    score: float
    risk_level: RiskLevel
    decision: Decision
    input_partition: int
    input_offset: int
    #: The experiment running when it was decided, and who decided (0 champion, 1 challenger).
    experiment_id: str | None = None
    arm: int | None = None
    #: The model that scored beside the deciding one, its score and its own risk tier.
    shadow_model_version: str | None = None
    shadow_score: float | None = None
    shadow_risk_level: RiskLevel | None = None
