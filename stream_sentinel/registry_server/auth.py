"""HTTP basic authentication with three roles, for a registry that is given users.

``reader`` may look things up (``GET``, a lookup ``POST /subjects/{s}``, compatibility checks),
``writer`` may also register schemas, ``admin`` may do anything else: delete, and change
compatibility and mode. The role is decided on the raw path (the one routing uses, ``%2F``
still encoded), with repeated and trailing slashes folded; a request of no known shape needs
admin. Refusals use Confluent's error shape: 401 / 40101 without valid credentials, 403 /
40301 for a role that may not do it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from pydantic import SecretStr
from starlette.types import ASGIApp, Receive, Scope, Send

from stream_sentinel.config import RegistrySettings
from stream_sentinel.config.credentials import read_credentials
from stream_sentinel.errors import ConfigError
from stream_sentinel.registry_server.http_support import error_response

Role = Literal["reader", "writer", "admin"]
_RANK: dict[str, int] = {"reader": 0, "writer": 1, "admin": 2}
_REGISTER = re.compile(r"^/subjects/[^/]+/versions$")
_READ_POSTS = (
    re.compile(r"^/subjects/[^/]+$"),  # lookup: is this schema registered under the subject?
    re.compile(r"^/compatibility/subjects/[^/]+/versions(/[^/]+)?$"),
)
_READ_METHODS = ("GET", "HEAD")
UNAUTHORIZED = (
    "Unauthorized: send HTTP basic credentials of a registry user (on the secure stack: the"
    " service's name as SENTINEL_REGISTRY_USERNAME and SENTINEL_REGISTRY_SECRETS_FILE pointing"
    " at <state dir>/security/secrets.json, or SENTINEL_REGISTRY_PASSWORD)"
)


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


def normalised(raw_path: str) -> str:
    """``raw_path`` with repeated and trailing slashes folded (encoded ``%2F`` untouched).

    >>> normalised("//subjects/a%2Fb/versions/"), normalised("/"), normalised("//config//")
    ('/subjects/a%2Fb/versions', '/', '/config')
    """
    return "/" + "/".join(part for part in raw_path.split("/") if part)


def needed_role(method: str, raw_path: str) -> Role:
    """The least role a request needs (``raw_path`` as sent, still percent-encoded).

    >>> needed_role("GET", "/subjects"), needed_role("POST", "/subjects/a%2Fb/versions/")
    ('reader', 'writer')
    >>> needed_role("POST", "/subjects/a%2Fb"), needed_role("DELETE", "/subjects/a")
    ('reader', 'admin')
    >>> needed_role("PUT", "/config/a"), needed_role("DELETE", "/mode"), needed_role("GET", "/mode")
    ('admin', 'admin', 'reader')
    """
    if method in _READ_METHODS:
        return "reader"
    path = normalised(raw_path)
    if method == "POST" and any(shape.match(path) for shape in _READ_POSTS):
        return "reader"
    if method == "POST" and _REGISTER.match(path):
        return "writer"
    return "admin"


def raw_path(scope: Scope) -> str:
    """The path routing sees: ``raw_path`` as sent, else the decoded ``path``."""
    return bytes(scope.get("raw_path") or scope["path"].encode()).decode("latin-1")


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
        self._digests = {
            name: _digest(user.password.get_secret_value()) for name, user in users.items()
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        user = self._known(basic_credentials(headers.get(b"authorization")))
        if user is None:
            response = error_response(401, 40101, UNAUTHORIZED)
            response.headers["WWW-Authenticate"] = 'Basic realm="schema-registry"'
            await response(scope, receive, send)
            return
        needed = needed_role(scope["method"], raw_path(scope))
        if _RANK[self._users[user].role] < _RANK[needed]:
            message = f"User {user} (role {self._users[user].role}) is denied: needs {needed}"
            await error_response(403, 40301, message)(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _known(self, credentials: tuple[str, str] | None) -> str | None:
        """The user whose password this is; the same work for an unknown user (a dummy
        comparison) and fixed-length digests, so timing tells neither names nor lengths."""
        if credentials is None:
            return None
        user, password = credentials
        known = self._digests.get(user)
        matches = hmac.compare_digest(known or _DUMMY, _digest(password))
        return user if known is not None and matches else None


_DUMMY = bytes(32)


def _digest(password: str) -> bytes:
    return hashlib.sha256(password.encode()).digest()
