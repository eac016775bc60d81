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
    """What the file holds: each Kafka principal's SCRAM password."""

    model_config = {"frozen": True, "extra": "forbid"}

    kafka: dict[str, SecretStr]

    def kafka_password(self, principal: str, source: Path) -> SecretStr:
        """``principal``'s password, or a ConfigError naming the principals there are."""
        try:
            return self.kafka[principal]
        except KeyError:
            known = ", ".join(sorted(self.kafka))
            raise ConfigError(
                f"{source} holds no Kafka password for {principal!r}: set"
                f" SENTINEL_KAFKA_SASL_USERNAME to one of {known}"
            ) from None

    def as_json(self) -> str:
        """The file's text (the only place the passwords are revealed)."""
        plain = {name: secret.get_secret_value() for name, secret in self.kafka.items()}
        return json.dumps({"kafka": plain}, indent=2, sort_keys=True) + "\n"


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
