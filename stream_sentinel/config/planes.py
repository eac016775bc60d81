"""The planes' sections: the detector (with its rules and bands) and the alert processor.

Their tables may be given in part (``{"CRITICAL": 500}``): the rows left out keep their defaults.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from stream_sentinel.config.sources import SectionSettings
from stream_sentinel.domain import Action, Decision, RiskLevel

Guarantee = Literal["exactly-once", "at-least-once"]


def _merged_with_default(model: type[BaseModel], name: str, value: Any) -> Any:
    """A table given in part (``{"CRITICAL": 500}``) keeps the defaults of the rows it omits."""
    default = model.model_fields[name].default
    if not isinstance(value, dict) or not isinstance(default, dict):
        return value
    risk_keyed = bool(default) and all(isinstance(k, RiskLevel) for k in default)
    given = {(RiskLevel(k) if risk_keyed else k): v for k, v in value.items()}
    return {**default, **given}


class RuleSettings(BaseModel):
    """Thresholds of the named rules; each rule that fires becomes a `reason`."""

    model_config = {"extra": "forbid"}

    high_amount_multiple: float = 5.0  # the seed's high_amount_vs_average: amount > 5 x mean
    high_amount_min_history: int = 3
    impossible_travel_kmh: float = 900.0
    impossible_travel_min_km: float = 300.0
    velocity_burst_20m: int = 6  # transactions (this one included) in the last two 10-min buckets
    velocity_burst_1h: int = 12
    new_device_high_amount_multiple: float = 3.0
    card_testing_count_1h: int = 4  # tiny amounts (<= 5.00, features.SMALL_AMOUNT) in an hour
    merchant_fraud_rate: float = 0.05
    merchant_fraud_min_labels: int = 3
    # The least risk level a transaction gets when the rule fires (model or not).
    # Noisy rules (high_amount_vs_average fires on ~1.5% of legitimate payments, merchant rate
    # on ~2.6%) only raise to LOW: their reasons are reported, the model weighs the signal.
    levels: dict[str, RiskLevel] = {
        "impossible_travel": RiskLevel.HIGH,
        "card_testing": RiskLevel.HIGH,
        "velocity_burst": RiskLevel.MEDIUM,
        "new_device_high_amount": RiskLevel.MEDIUM,
        "high_amount_vs_average": RiskLevel.LOW,
        "merchant_high_fraud_rate": RiskLevel.LOW,
    }

    @field_validator("levels", mode="before")
    @classmethod
    def _merge_tables(cls, value: Any) -> Any:
        return _merged_with_default(cls, "levels", value)


class DetectorSettings(SectionSettings):
    """The detector's consumer group, guarantees, validation limits, rules and bands."""

    model_config = SettingsConfigDict(env_prefix="SENTINEL_DETECTOR_")

    group_id: str = "fraud-detection-group"
    feedback_group_id: str = "fraud-detection-feedback"
    guarantee: Guarantee = "exactly-once"
    max_batch: int = Field(1000, ge=1, le=100_000)
    # Under a backlog, batches grow up to this size (fewer commits per transaction).
    max_batch_burst: int = Field(8000, ge=1, le=100_000)
    poll_timeout_ms: int = 100
    alert_level: RiskLevel = RiskLevel.MEDIUM
    max_future_skew_s: float = 300.0
    max_payload_bytes: int = 64 * 1024
    # Untrusted Avro is walked within these bounds before it is decoded (schemas/bounds.py).
    max_decode_depth: int = Field(32, ge=2, le=200)
    max_decode_items: int = Field(10_000, ge=1, le=10_000_000)
    # Per input partition, at least this many recent transaction ids are remembered: a payment
    # re-sent with the same id within them is dead-lettered as `duplicate` (0: no check).
    dedup_window: int = Field(50_000, ge=0, le=10_000_000)
    # `detect` and `alerts run` end (status 1) when a loop makes no progress for this long.
    stall_limit_s: float = Field(600.0, ge=10.0)
    max_amount: float = 1_000_000.0
    profile_ttl_days: int = 35
    user_cache_size: int = 200_000
    # Write a batch's state to Redis while the next batch is handled (one write in flight).
    overlap_state_writes: bool = True
    # The registry alias the detectors score with (`models promote VERSION --alias NAME`).
    model_alias: str = Field("champion", pattern=r"^[a-z][a-z0-9_-]{0,31}$")
    # Besides following model-events, re-read the alias from the registry this often (a lost
    # announcement still reaches every detector within it).
    model_check_s: float = Field(30.0, ge=1.0, le=3600.0)
    # Write each decision's feature vector to decision-features, in the decision's transaction.
    feature_log: bool = True
    rules: RuleSettings = RuleSettings()
    # Target alert rates that choose the score bands when a model is trained.
    band_rates: dict[RiskLevel, float] = {
        RiskLevel.CRITICAL: 0.001,
        RiskLevel.HIGH: 0.005,
        RiskLevel.MEDIUM: 0.02,
        RiskLevel.LOW: 0.10,
    }
    decisions: dict[RiskLevel, Decision] = {
        RiskLevel.CRITICAL: Decision.DECLINE,
        RiskLevel.HIGH: Decision.CHALLENGE,
        RiskLevel.MEDIUM: Decision.REVIEW,
        RiskLevel.LOW: Decision.APPROVE,
        RiskLevel.MINIMAL: Decision.APPROVE,
    }
    contributions_from: RiskLevel = RiskLevel.MEDIUM
    top_contributions: int = 5

    @field_validator("band_rates", "decisions", mode="before")
    @classmethod
    def _merge_tables(cls, value: Any, info: Any) -> Any:
        return _merged_with_default(cls, info.field_name, value)


class AlertSettings(SectionSettings):
    """The alert processor's policy table, escalation, enforcement periods and SLA targets."""

    model_config = SettingsConfigDict(env_prefix="SENTINEL_ALERTS_")

    group_id: str = "alert-response-group"
    guarantee: Guarantee = "exactly-once"
    policy: dict[RiskLevel, list[Action]] = {
        RiskLevel.CRITICAL: [Action.BLOCK_USER, Action.OPEN_CASE, Action.INVESTIGATE],
        RiskLevel.HIGH: [Action.STEP_UP, Action.OPEN_CASE],
        RiskLevel.MEDIUM: [Action.OPEN_CASE, Action.WATCH],
        RiskLevel.LOW: [Action.MONITOR],
        RiskLevel.MINIMAL: [],
    }
    block_period_s: float = 24 * 3600.0
    step_up_period_s: float = 24 * 3600.0
    watch_period_s: float = 7 * 24 * 3600.0
    watch_alert_level: RiskLevel = RiskLevel.LOW
    escalation_count: int = 3
    escalation_window_s: float = 3600.0
    history_cap: int = 50
    sla_ms: dict[RiskLevel, int] = {
        RiskLevel.CRITICAL: 1_000,
        RiskLevel.HIGH: 5_000,
        RiskLevel.MEDIUM: 30_000,
        RiskLevel.LOW: 300_000,
        RiskLevel.MINIMAL: 300_000,
    }
    # The alert processor's consumer loop (alerts are few: small batches keep the SLA short).
    max_batch: int = Field(default=500, ge=1, le=100_000)
    poll_timeout_ms: int = 100
    # Expired control members are swept this often (between batches); reads check expiry anyway.
    sweep_interval_s: float = Field(default=5.0, gt=0)
    # Alert records (the idempotence markers, cases once closed) are kept this long after their
    # alert or resolution: longer than any record stays in fraud-alerts (7-day retention plus a
    # one-day segment), so a replay always finds them.
    record_retention_s: float = Field(default=9 * 24 * 3600.0, gt=0)

    @field_validator("policy", "sla_ms", mode="before")
    @classmethod
    def _merge_tables(cls, value: Any, info: Any) -> Any:
        return _merged_with_default(cls, info.field_name, value)

    @model_validator(mode="after")
    def _history_holds_the_escalation_window(self) -> AlertSettings:
        if self.escalation_count > self.history_cap:
            raise ValueError(
                f"escalation_count ({self.escalation_count}) cannot exceed history_cap "
                f"({self.history_cap}): the history would never hold enough alerts to escalate"
            )
        return self
