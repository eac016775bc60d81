"""The learning plane's services: the learner (`stream-sentinel learn`) and drift detection
(`stream-sentinel drift`)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from stream_sentinel.config.sources import SectionSettings


class LearningSettings(SectionSettings):
    """The continuous learner: its consumer group and how it trains and promotes."""

    model_config = SettingsConfigDict(env_prefix="SENTINEL_LEARNING_")

    group_id: str = "learning-group"
    #: Time a label may take to arrive: an unlabelled transaction counts as legitimate only
    #: once it is older than this (event time), as a fraud team treats it.
    label_delay_ms: int = Field(default=7 * 86_400_000, ge=0)
    #: The training set's event-time reach (rows older than this are dropped).
    window_ms: int = Field(default=28 * 86_400_000, gt=0)
    #: The most recent labelled period (ending at now - label delay) used for validation.
    validation_ms: int = Field(default=3 * 86_400_000, gt=0)
    #: Scheduled retrains, in event time.
    retrain_every_ms: int = Field(default=86_400_000, gt=0)
    #: Keep one in N never-labelled (legitimate) rows, each weighted N; labelled rows are all kept.
    legit_keep_one_in: int = Field(default=1, ge=1)
    min_train_rows: int = Field(default=100, ge=1)
    min_train_frauds: int = Field(default=5, ge=1)
    min_validation_frauds: int = Field(default=1, ge=1)
    #: ``guarded``: a candidate becomes champion when the checks below pass; ``never``: it
    #: stays challenger until an operator promotes it.
    promotion: Literal["guarded", "never"] = "guarded"
    #: How far AP and ROC AUC may fall below the champion's on the same validation window.
    ap_tolerance: float = Field(default=0.01, ge=0)
    auc_tolerance: float = Field(default=0.01, ge=0)
    #: How far (relative) a band's validation alert rate may exceed its target rate.
    alert_rate_tolerance: float = Field(default=0.5, ge=0)
    #: How often (wall clock) the learner looks for retrain requests.
    request_check_s: float = Field(default=1.0, gt=0)
    #: The longest a retrain may block the consumer loops (wall clock): `learn` gives its
    #: consumers a ``max.poll.interval.ms`` of at least this plus a minute, so the group does
    #: not evict them mid-retrain; a retrain taking longer is logged as a warning.
    retrain_budget_s: float = Field(default=900.0, gt=0)
    #: The model kinds each retrain registers: ``batch`` (LightGBM, refitted on the window),
    #: ``online`` (the River logistic regression learning each row as it becomes learnable,
    #: registered as a snapshot), or ``both`` (the batch candidate first, then the online one).
    learner: Literal["batch", "online", "both"] = "batch"
    #: How far event time moves between two online updates (between two batches).
    online_update_every_ms: int = Field(default=60_000, gt=0)


class DriftSettings(SectionSettings):
    """Drift detection: its consumer group, windows and alarm policy."""

    model_config = SettingsConfigDict(env_prefix="SENTINEL_DRIFT_")

    group_id: str = "drift-group"
    #: Event-time hours of a model version's first scored rows skipped before its reference.
    warmup_hours: int = Field(default=24, ge=0)
    #: Event-time hours after the warm-up whose rows form the version's reference profile.
    reference_hours: int = Field(default=24, ge=1)
    #: Reference rows kept per input partition (the rest of the reference hours is not kept);
    #: the rows after the reference hours waiting for it to be built are capped the same.
    reference_max_rows: int = Field(default=200_000, ge=1_000)
    #: Fewer rows than this in a version's reference hours make no reference (its windows
    #: are not checked): every window is compared with it, so its own noise must be small
    #: (docs/drift.md: at least twenty times a window).
    min_reference_rows: int = Field(default=1_000, ge=1)
    #: How long after an hour ends (in event time) rows may still arrive for it.
    lateness_s: int = Field(default=300, ge=0)
    #: A partition whose latest row is this far (event time) behind the latest of all is idle:
    #: left out of the clock's minimum, so it does not hold every hour open.
    idle_partition_s: int = Field(default=3600, ge=0)
    #: Family-wise level of one window's checks (Holm over every monitor of the window). An
    #: hourly window is 168 checks a week: at 0.005 an unchanged stream raises an alarm in
    #: fewer than one window a week on average (168 x 0.005 = 0.84).
    alpha: float = Field(default=0.005, gt=0.0, lt=1.0)
    #: Features left out of the alarm family because they change with the age of the history
    #: or the time of day by construction, not with the traffic (see docs/drift.md).
    excluded_features: tuple[str, ...] = (
        "history_count",
        "count_7d",
        "sum_7d",
        "count_30d",
        "sum_30d",
        "hour_share",
        "daily_count",
        "merchant_volume_1d",
        "merchant_volume_7d",
        "merchant_volume_30d",
        "merchant_fraud_1d",
        "merchant_fraud_7d",
        "merchant_fraud_30d",
        "merchant_fraud_rate_1d",
        "merchant_fraud_rate_7d",
        "merchant_fraud_rate_30d",
    )
    #: Monitors whose critical alarm asks the learner for a retrain.
    retrain_monitors: tuple[str, ...] = ("score-distribution", "alert-rate", "estimated-precision")
    #: Features the model leans on: a critical feature alarm on one asks for a retrain.
    retrain_features: tuple[str, ...] = ("amount", "log_amount")
    #: At most one retrain request per this many event-time hours (per model version).
    retrain_cooldown_hours: int = Field(default=24, ge=0)
    #: Labels given within this long of their transaction count for the performance monitors;
    #: a transaction's outcome is fed to them once this much event time has passed (a later
    #: label is not counted). See docs/drift.md, "Performance drift".
    performance_deadline_hours: int = Field(default=24, ge=1)
    #: Whether a critical performance alarm (error rate up, precision down) asks for a retrain.
    performance_retrain: bool = True
