"""The secure stack's passwords: random per stack, kept in one owner-only file.

They are made once, when the stack's storage is first formatted (Kafka's SCRAM users are
bootstrapped then), and read back by every later `infra up` and by the clients' settings.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable
from pathlib import Path

from pydantic import SecretStr

from stream_sentinel.config.credentials import StackCredentials, read_credentials
from stream_sentinel.infra.certs import PRIVATE_MODE, write_file

PASSWORD_BYTES = 24  # 192 bits, 32 URL-safe characters: no quoting needed in any config file


def new_password() -> str:
    return secrets.token_urlsafe(PASSWORD_BYTES)


def new_credentials(
    principals: Iterable[str],
    password: Callable[[], str] = new_password,
    redis_users: Iterable[str] = (),
    registry_users: Iterable[str] = (),
) -> StackCredentials:
    """A fresh password for each Kafka principal, each Redis user and each registry user."""
    return StackCredentials(
        kafka={name: SecretStr(password()) for name in principals},
        redis={name: SecretStr(password()) for name in redis_users},
        registry={name: SecretStr(password()) for name in registry_users},
    )


def write_credentials(path: Path, credentials: StackCredentials) -> None:
    """Write the file owner-only (its directory too), replacing it atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.parent.chmod(0o700)
    write_file(path, credentials.as_json().encode(), PRIVATE_MODE)


def ensure_credentials(
    path: Path,
    principals: Iterable[str],
    redis_users: Iterable[str] = (),
    registry_users: Iterable[str] = (),
) -> StackCredentials:
    """The stack's credentials: those in ``path``, or new ones written there. Redis and registry
    users the file lacks get a password now (Kafka's are fixed at format time: never added)."""
    if not path.exists():
        credentials = new_credentials(
            principals, redis_users=redis_users, registry_users=registry_users
        )
        write_credentials(path, credentials)
        return credentials
    credentials = read_credentials(path)
    update = {
        server: have | {name: SecretStr(new_password()) for name in wanted if name not in have}
        for server, have, wanted in (
            ("redis", credentials.redis, redis_users),
            ("registry", credentials.registry, registry_users),
        )
    }
    if update != {"redis": credentials.redis, "registry": credentials.registry}:
        credentials = credentials.model_copy(update=update)
        write_credentials(path, credentials)
    return credentials
