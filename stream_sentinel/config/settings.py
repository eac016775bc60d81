"""All settings of one process: one typed section each for Kafka, Redis, ... ."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import BaseModel

from stream_sentinel.config.connections import KafkaSettings, RedisSettings, RegistrySettings
from stream_sentinel.config.experiments import ExperimentSettings
from stream_sentinel.config.infra import InfraSettings
from stream_sentinel.config.learning import DriftSettings, LearningSettings
from stream_sentinel.config.planes import AlertSettings, DetectorSettings
from stream_sentinel.config.profiles import Profile
from stream_sentinel.config.sources import SectionSettings

#: The sections of :class:`Settings` by name, in the order they are built.
SECTIONS: dict[str, type[SectionSettings]] = {
    "kafka": KafkaSettings,
    "redis": RedisSettings,
    "registry": RegistrySettings,
    "infra": InfraSettings,
    "detector": DetectorSettings,
    "alerts": AlertSettings,
    "learning": LearningSettings,
    "drift": DriftSettings,
    "experiments": ExperimentSettings,
}


class Settings(BaseModel):
    """All settings of one process. Build it with :func:`load_settings`."""

    model_config = {"frozen": True}

    env: Profile = "development"
    kafka: KafkaSettings
    redis: RedisSettings
    registry: RegistrySettings
    infra: InfraSettings
    detector: DetectorSettings
    alerts: AlertSettings
    learning: LearningSettings
    drift: DriftSettings
    experiments: ExperimentSettings

    SECTIONS: ClassVar[dict[str, type[SectionSettings]]] = SECTIONS

    def with_overrides(self, **sections: Mapping[str, Any]) -> Settings:
        """A copy with section fields replaced and validated: ``kafka={"topic_prefix": "t-"}``."""
        updated: dict[str, Any] = {}
        for name, values in sections.items():
            current = getattr(self, name)
            updated[name] = current.model_validate(current.model_dump() | dict(values))
        return self.model_copy(update=updated)


def topic_name(settings: Settings, base: str) -> str:
    """The real topic name for a logical one, with the configured prefix."""
    return settings.kafka.topic_prefix + base
