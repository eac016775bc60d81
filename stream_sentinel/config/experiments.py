"""Champion/challenger experiments: the decision rule's level and limits, and the guard rails."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from stream_sentinel.config.sources import SectionSettings


class ExperimentSettings(SectionSettings):
    """How an experiment decides (docs/experiments.md)."""

    model_config = SettingsConfigDict(env_prefix="SENTINEL_EXPERIMENTS_")

    #: The chance of ever declaring a difference that is not there, however often the
    #: evidence is read (the mixture SPRT's guarantee).
    alpha: float = Field(default=0.05, gt=0.0, lt=0.5)
    #: The smallest difference in recall at the champion's alert budget worth acting on
    #: (absolute: 0.05 is five points); the test is tuned to detect it.
    mde: float = Field(default=0.05, gt=0.0, lt=1.0)
    metric: Literal["recall_at_budget"] = "recall_at_budget"
    #: The experiments service's consumer group (under the deployment's topic prefix).
    group_id: str = "experiments-group"
    #: Labelled frauds each arm needs before a verdict counts.
    min_labels: int = Field(default=100, ge=10)
    #: An experiment without a verdict after this many labelled frauds, or this many days,
    #: stops and the champion stays.
    max_labels: int = Field(default=20_000, ge=100)
    max_days: float = Field(default=180.0, gt=0)
    #: A transaction counts towards recall this long after its decision, with the label it has
    #: by then (later labels are ignored). Counting labels as they arrive would bias the test:
    #: the frauds a model flagged are labelled within days, the ones it missed by chargebacks
    #: weeks later. Cover the slowest label source; shorter favours the champion.
    label_deadline_days: float = Field(default=60.0, gt=0)
    #: ``confirm``: a better challenger waits for `models promote`; ``automatic``: it is promoted.
    promotion: Literal["confirm", "automatic"] = "confirm"
    #: Guard rails, checked without labels: the challenger's rate over the champion's.
    max_alert_rate_ratio: float = Field(default=2.0, gt=1.0)
    max_decline_rate_ratio: float = Field(default=2.0, gt=1.0)
    max_latency_ratio: float = Field(default=3.0, gt=1.0)
    guard_min_rows: int = Field(default=2_000, ge=1)
    #: ... and the challenger at least this many alerts (declines) before that rail counts.
    guard_min_events: int = Field(default=10, ge=1)
