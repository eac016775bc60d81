"""The secure stack's credentials file: one password per service principal, read as secrets.

`infra up --secure` writes it (mode 0600, under the state directory); settings read it so that
no password is ever passed on a command line or in an environment a process listing shows.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, SecretStr, ValidationError

from stream_sentinel.errors import ConfigError


class StackCredentials(BaseModel):
    """What the file holds: each Kafka principal's SCRAM password, each Redis and registry
    user's."""

    model_config = {"frozen": True, "extra": "forbid"}

    kafka: dict[str, SecretStr]
    redis: dict[str, SecretStr] = {}
    registry: dict[str, SecretStr] = {}

    def kafka_password(self, principal: str, source: Path) -> SecretStr:
        """``principal``'s password, or a ConfigError naming the principals there are."""
        return _password(self.kafka, principal, source, "Kafka", "SENTINEL_KAFKA_SASL_USERNAME")

    def redis_password(self, user: str, source: Path) -> SecretStr:
        """Redis ``user``'s password, or a ConfigError naming the users there are."""
        return _password(self.redis, user, source, "Redis", "the user in SENTINEL_REDIS_URL")

    def registry_password(self, user: str, source: Path) -> SecretStr:
        """Registry ``user``'s password, or a ConfigError naming the users there are."""
        return _password(self.registry, user, source, "registry", "SENTINEL_REGISTRY_USERNAME")

    def as_json(self) -> str:
        """The file's text (the only place the passwords are revealed)."""
        plain = {
            server: {name: secret.get_secret_value() for name, secret in passwords.items()}
            for server, passwords in (
                ("kafka", self.kafka),
                ("redis", self.redis),
                ("registry", self.registry),
            )
        }
        return json.dumps(plain, indent=2, sort_keys=True) + "\n"


def _password(
    passwords: dict[str, SecretStr], name: str, source: Path, server: str, setting: str
) -> SecretStr:
    try:
        return passwords[name]
    except KeyError:
        known = ", ".join(sorted(passwords)) or "none"
        raise ConfigError(
            f"{source} holds no {server} password for {name!r}: set {setting} to one of {known}"
        ) from None


def read_credentials(path: Path) -> StackCredentials:
    """The credentials in ``path``; a ConfigError saying how to make them when it is missing."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(
            f"cannot read the credentials file {path} ({exc.strerror}): `stream-sentinel infra up"
            " --secure` writes it, or unset SENTINEL_KAFKA_SECRETS_FILE"
        ) from None
    try:
        return StackCredentials.model_validate_json(text)
    except ValidationError:
        raise ConfigError(
            f"the credentials file {path} is not one `infra up --secure` wrote: run"
            " `stream-sentinel infra down --purge` and `infra up --secure` to make it anew"
        ) from None
