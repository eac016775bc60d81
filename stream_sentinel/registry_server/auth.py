"""HTTP basic authentication with three roles, for a registry that is given users.

``reader`` may look things up (and test compatibility), ``writer`` may also register and delete
schemas, ``admin`` may also change compatibility and mode (``PUT``/``DELETE`` on ``/config`` and
``/mode``). Refusals use Confluent's error shape: 401 / 40101 without valid credentials, 403 /
40301 for a role that may not do it.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from pydantic import SecretStr
from starlette.types import ASGIApp, Receive, Scope, Send

from stream_sentinel.config import RegistrySettings
from stream_sentinel.config.credentials import read_credentials
from stream_sentinel.errors import ConfigError
from stream_sentinel.registry_server.forwarding import is_write
from stream_sentinel.registry_server.http_support import error_response

Role = Literal["reader", "writer", "admin"]
_RANK: dict[str, int] = {"reader": 0, "writer": 1, "admin": 2}


@dataclass(frozen=True, slots=True)
class RegistryUser:
    password: SecretStr
    role: Role


def users_from_settings(settings: RegistrySettings) -> dict[str, RegistryUser]:
    """The users of ``roles``, their passwords from the secrets file; {} when there are none."""
    if not settings.roles:
        return {}
    if settings.secrets_file is None:
        raise ConfigError(
            "SENTINEL_REGISTRY_ROLES names users but SENTINEL_REGISTRY_SECRETS_FILE, which holds"
            " their passwords, is not set"
        )
    credentials = read_credentials(settings.secrets_file)
    return {
        user: RegistryUser(credentials.registry_password(user, settings.secrets_file), role)
        for user, role in settings.roles.items()
    }


def needed_role(method: str, path: str) -> Role:
    """The least role a request needs.

    >>> needed_role("GET", "/subjects"), needed_role("POST", "/subjects/a/versions")
    ('reader', 'writer')
    >>> needed_role("PUT", "/config/a"), needed_role("DELETE", "/mode"), needed_role("GET", "/mode")
    ('admin', 'admin', 'reader')
    """
    if not is_write(method, path):
        return "reader"
    if path.startswith(("/config", "/mode")):
        return "admin"
    return "writer"


def basic_credentials(header: bytes | None) -> tuple[str, str] | None:
    """User and password of an ``Authorization: Basic ...`` header (None: absent or malformed)."""
    if not header or not header.lower().startswith(b"basic "):
        return None
    try:
        user, colon, password = base64.b64decode(header[6:], validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (user, password) if colon else None


class BasicAuth:
    """ASGI middleware: every request carries a known user's password and a role allowed it."""

    def __init__(self, app: ASGIApp, users: Mapping[str, RegistryUser]) -> None:
        self.app = app
        self._users = dict(users)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        user = self._known(basic_credentials(headers.get(b"authorization")))
        if user is None:
            response = error_response(401, 40101, "Unauthorized: credentials are required")
            response.headers["WWW-Authenticate"] = 'Basic realm="schema-registry"'
            await response(scope, receive, send)
            return
        needed = needed_role(scope["method"], scope["path"])
        if _RANK[self._users[user].role] < _RANK[needed]:
            message = f"User {user} (role {self._users[user].role}) is denied: needs {needed}"
            await error_response(403, 40301, message)(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _known(self, credentials: tuple[str, str] | None) -> str | None:
        if credentials is None or credentials[0] not in self._users:
            return None
        expected = self._users[credentials[0]].password.get_secret_value().encode()
        return credentials[0] if hmac.compare_digest(expected, credentials[1].encode()) else None
