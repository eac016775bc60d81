"""Where a section's values come from: explicit values > environment > profile > defaults."""

from __future__ import annotations

import contextvars
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)
from pydantic_settings.sources.utils import parse_env_vars

# The active profile and environment while a section is being built (see SectionSettings).
_build_context: contextvars.ContextVar[tuple[Mapping[str, Any], Mapping[str, str]]] = (
    contextvars.ContextVar("_build_context")
)


class _MappingEnvSource(EnvSettingsSource):
    """pydantic-settings' env source, reading an injected mapping instead of ``os.environ``."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        self._environ = environ
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return parse_env_vars(
            self._environ, self.case_sensitive, self.env_ignore_empty, self.env_parse_none_str
        )


class _ProfileSource(PydanticBaseSettingsSource):
    """The active profile's values for one section, below the environment in priority."""

    def __init__(self, settings_cls: type[BaseSettings], values: Mapping[str, Any]) -> None:
        super().__init__(settings_cls)
        self._values = dict(values)

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return self._values.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self._values)


class SectionSettings(BaseSettings):
    """Base of every section: explicit values > environment > profile > defaults."""

    model_config = SettingsConfigDict(extra="forbid", validate_default=True)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        profile_values, environ = _build_context.get(({}, os.environ))
        return (
            init_settings,
            _MappingEnvSource(settings_cls, environ),
            _ProfileSource(settings_cls, profile_values),
        )


@contextmanager
def section_sources(
    profile_values: Mapping[str, Any], environ: Mapping[str, str]
) -> Iterator[None]:
    """Sections built inside read ``environ`` and, under it, ``profile_values``."""
    token = _build_context.set((profile_values, environ))
    try:
        yield
    finally:
        _build_context.reset(token)
