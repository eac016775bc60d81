"""Rejected settings as one-line messages: the field, the variable holding it, how to fix it."""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_settings import SettingsError

from stream_sentinel.config.sources import SectionSettings


def describe_validation_error(
    cls: type[SectionSettings], exc: ValidationError, environ: Mapping[str, str]
) -> str:
    """Every value of section ``cls`` that ``exc`` rejects, in one line."""
    problems = [describe_problem(cls, error, environ) for error in exc.errors()]
    return "invalid settings: " + "; ".join(problems)


def describe_problem(cls: type[SectionSettings], error: Any, environ: Mapping[str, str]) -> str:
    """One rejected value: the field, the variable that holds it, what is wrong, how to fix it."""
    prefix = cls.model_config.get("env_prefix", "")
    message = str(error["msg"]).removeprefix("Value error, ")
    if not error["loc"]:  # a check across fields (escalation_count vs history_cap)
        return f"{prefix}*: {message}"
    name = str(error["loc"][0])
    field = ".".join(str(part) for part in error["loc"])
    if name not in cls.model_fields:
        return f"{field}: {message} (no such setting)"
    variable = prefix + name.upper()
    given = _env_value(environ, variable)
    shown = f" (got {given[:60]!r})" if given is not None and "password" not in name else ""
    return f"{field} ({variable}): {message}{shown}; {_how_to_set(cls, name, f'set {variable} to')}"


def describe_settings_error(
    cls: type[SectionSettings], exc: SettingsError, environ: Mapping[str, str]
) -> str:
    """A value of section ``cls`` pydantic-settings could not even parse (a table not in JSON)."""
    prefix = cls.model_config.get("env_prefix", "")
    cause = exc.__cause__
    if isinstance(cause, json.JSONDecodeError):
        for name in cls.model_fields:
            variable = prefix + name.upper()
            if _env_value(environ, variable) == cause.doc:
                return (
                    f"{variable} is not valid JSON ({cause.msg} at character {cause.pos + 1}); "
                    + _how_to_set(cls, name, "set it to")
                )
    return f"invalid settings ({prefix}*): {exc} ({cause})"


def _env_value(environ: Mapping[str, str], variable: str) -> str | None:
    # pydantic-settings matches variable names case-insensitively
    return next((value for key, value in environ.items() if key.upper() == variable), None)


def _how_to_set(cls: type[BaseModel], name: str, verb: str) -> str:
    """How to write a good value of field ``name``, from its default (tables as JSON)."""
    default = _plain(cls.model_fields[name].default)
    if isinstance(default, dict):
        return f"{verb} a JSON object such as {json.dumps(dict(list(default.items())[:1]))}"
    if isinstance(default, list):
        return f"{verb} a JSON array such as {json.dumps(default[:1] or ['...'])}"
    if default is None:
        return f"{verb} a valid value, or unset it"
    shown = default if isinstance(default, str) else json.dumps(default)
    return f"{verb} a value such as {shown} (the default), or unset it"


def _plain(value: Any) -> Any:
    """``value`` as a user writes it in the environment (enums by name, paths as text)."""
    if isinstance(value, BaseModel):
        return _plain(value.model_dump())
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, dict):
        return {_plain(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return str(value) if isinstance(value, Path) else value
