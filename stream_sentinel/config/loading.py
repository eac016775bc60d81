"""Building :class:`Settings` from a profile, an environment and overrides; the production gate."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError
from pydantic_settings import SettingsError

from stream_sentinel.config.profiles import PROFILE_VALUES, PROFILES
from stream_sentinel.config.reporting import describe_settings_error, describe_validation_error
from stream_sentinel.config.settings import SECTIONS, Settings
from stream_sentinel.config.sources import SectionSettings, section_sources
from stream_sentinel.errors import ConfigError


def load_settings(
    profile: str | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
) -> Settings:
    """Build settings for ``profile`` (else ``SENTINEL_ENV``, else development) from ``environ``."""
    env = os.environ if environ is None else environ
    name = profile or env.get("SENTINEL_ENV") or "development"
    if name not in PROFILES:
        raise ConfigError(
            f"unknown environment profile {name!r}: use one of {', '.join(PROFILES)} "
            "(--env or SENTINEL_ENV)"
        )
    sections = {
        section: _build_section(
            cls, PROFILE_VALUES[name].get(section, {}), env, (overrides or {}).get(section, {})
        )
        for section, cls in SECTIONS.items()
    }
    settings = Settings(env=name, **sections)  # type: ignore[arg-type]
    if name == "production":
        require_production_ready(settings)
    return settings


def _build_section(
    cls: type[SectionSettings],
    profile_values: Mapping[str, Any],
    environ: Mapping[str, str],
    explicit: Mapping[str, Any],
) -> SectionSettings:
    with section_sources(profile_values, environ):
        try:
            return cls(**explicit)
        except ValidationError as exc:
            raise ConfigError(describe_validation_error(cls, exc, environ)) from None
        except SettingsError as exc:  # a table that is not even JSON
            raise ConfigError(describe_settings_error(cls, exc, environ)) from None


def require_production_ready(settings: Settings) -> None:
    """Refuse to run production without acks=all, idempotence and SASL_SSL credentials."""
    kafka = settings.kafka
    missing = []
    if kafka.security_protocol != "SASL_SSL":
        missing.append("SENTINEL_KAFKA_SECURITY_PROTOCOL=SASL_SSL")
    if not kafka.sasl_username:
        missing.append("SENTINEL_KAFKA_SASL_USERNAME")
    configured = kafka.sasl_password is not None and kafka.sasl_password.get_secret_value()
    if not configured and kafka.secrets_file is None:  # the file's is read at connect time
        missing.append("SENTINEL_KAFKA_SASL_PASSWORD")
    if kafka.acks != "all":
        missing.append("SENTINEL_KAFKA_ACKS=all")
    if not kafka.enable_idempotence:
        missing.append("SENTINEL_KAFKA_ENABLE_IDEMPOTENCE=true")
    if missing:
        raise ConfigError(
            "the production profile refuses to start without: "
            + ", ".join(missing)
            + ". Set them in the environment (secrets are never printed)."
        )
