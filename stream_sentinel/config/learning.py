"""The learning plane's services: the learner (`stream-sentinel learn`) and drift detection
(`stream-sentinel drift`)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from stream_sentinel.config.sources import SectionSettings


class LearningSettings(SectionSettings):
    """The continuous learner: its consumer group and how it trains and promotes."""

    model_config = SettingsConfigDict(env_prefix="SENTINEL_LEARNING_")

    group_id: str = "learning-group"


class DriftSettings(SectionSettings):
    """Drift detection: its consumer group, windows and alarm policy."""

    model_config = SettingsConfigDict(env_prefix="SENTINEL_DRIFT_")

    group_id: str = "drift-group"
