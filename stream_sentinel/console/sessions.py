"""Signed session cookies and the CSRF token each session carries.

The cookie holds ``{"user": name or None, "csrf": token}`` signed with the console's key (and
timestamped: older than the session lifetime means no session). Every form posts the token back;
a POST whose token differs from its session's is refused. An anonymous visitor gets a session
too, so the login form is protected the same way.

>>> codec = SessionCodec("k" * 32, ttl_s=60)
>>> session = Session.fresh()
>>> codec.loads(codec.dumps(session)) == session
True
>>> codec.loads("forged") is None
True
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace

from itsdangerous import BadSignature, URLSafeTimedSerializer

COOKIE = "sentinel_console"
CSRF_FIELD = "csrf_token"


@dataclass(frozen=True, slots=True)
class Session:
    csrf: str
    user: str | None = None

    @classmethod
    def fresh(cls) -> Session:
        return cls(csrf=secrets.token_urlsafe(32))

    def signed_in(self, user: str) -> Session:
        """A new session for ``user``: a new token, so a token seen before login is worthless."""
        return replace(Session.fresh(), user=user)


class SessionCodec:
    """Signs and checks session cookies with one key and one lifetime."""

    def __init__(self, secret: str, ttl_s: int) -> None:
        self._serializer = URLSafeTimedSerializer(secret, salt="stream-sentinel-console")
        self.ttl_s = ttl_s

    def dumps(self, session: Session) -> str:
        return self._serializer.dumps({"user": session.user, "csrf": session.csrf})

    def loads(self, cookie: str | None) -> Session | None:
        """The session, or None when the cookie is missing, forged, malformed or too old."""
        if not cookie:
            return None
        try:
            data = self._serializer.loads(cookie, max_age=self.ttl_s)
        except BadSignature:
            return None
        if not isinstance(data, dict) or not isinstance(data.get("csrf"), str):
            return None
        user = data.get("user")
        return Session(csrf=data["csrf"], user=user if isinstance(user, str) else None)


def tokens_match(expected: str, given: str | None) -> bool:
    return given is not None and secrets.compare_digest(expected, given)
