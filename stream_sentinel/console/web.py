"""What every route shares: the console's parts, who is asking, their role, the CSRF check.

A visitor always has a signed session cookie (anonymous until login) carrying a CSRF token;
every form posts it back and a POST without the session's token is refused (403). With users
configured, a page without a signed-in user redirects to the login page (an API call gets 401);
without users (allowed on loopback only) every visitor is the local operator, an admin.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from stream_sentinel.alerts.operator import iso_ms
from stream_sentinel.console.audit import AuditLog
from stream_sentinel.console.messages import MessageBrowser
from stream_sentinel.console.overview import OverviewSampler
from stream_sentinel.console.sessions import CSRF_FIELD, Session, SessionCodec, tokens_match
from stream_sentinel.console.settings import ConsoleSettings
from stream_sentinel.console.sources import ConsoleSources
from stream_sentinel.console.users import Role, UserBook

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
LOCAL_OPERATOR = "local"


def human_bytes(count: int | None) -> str:
    """``1.5 MiB`` for 1572864 (``-`` when unknown).

    >>> human_bytes(1572864), human_bytes(512), human_bytes(None)
    ('1.5 MiB', '512 B', '-')
    """
    if count is None:
        return "-"
    size = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"


def iso_time(epoch_ms: int | None) -> str:
    return "-" if not epoch_ms else iso_ms(int(epoch_ms))


TEMPLATES.env.filters["bytes"] = human_bytes
TEMPLATES.env.filters["iso"] = iso_time


class LoginRequired(Exception):
    """No signed-in user: pages redirect to the login page, the API answers 401."""


class Forbidden(Exception):
    """The user's role does not allow this (403)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True, slots=True)
class Principal:
    name: str
    role: Role

    def may(self, role: Role) -> bool:
        return self.role >= role


@dataclass
class Console:
    """The parts of one console app."""

    settings: ConsoleSettings
    sources: ConsoleSources
    users: UserBook
    codec: SessionCodec
    sampler: OverviewSampler
    browser: MessageBrowser
    audit: AuditLog

    @property
    def open_mode(self) -> bool:
        """No users configured: the console trusts whoever can reach its loopback port."""
        return not self.users

    def principal(self, session: Session) -> Principal | None:
        if self.open_mode:
            return Principal(LOCAL_OPERATOR, Role.ADMIN)
        user = self.users.users.get(session.user or "")
        return None if user is None else Principal(user.name, user.role)


def session_secret(settings: ConsoleSettings) -> str:
    if settings.session_secret is not None:
        return settings.session_secret.get_secret_value()
    return secrets.token_urlsafe(32)


def console(request: Request) -> Console:
    found: Console = request.app.state.console
    return found


def session(request: Request) -> Session:
    found: Session = request.state.session
    return found


def viewer(request: Request, parts: Console = Depends(console)) -> Principal:
    """The signed-in user (any role)."""
    who = parts.principal(session(request))
    if who is None:
        raise LoginRequired
    return who


def analyst(who: Principal = Depends(viewer)) -> Principal:
    """A user who may change things (analyst or admin)."""
    if not who.may(Role.ANALYST):
        raise Forbidden(f"{who.name} is a {who.role.label}: only analysts and admins may do this")
    return who


async def csrf_checked(request: Request) -> dict[str, str]:
    """The posted form, once its CSRF token is the session's (else Forbidden)."""
    form = await request.form()
    given = form.get(CSRF_FIELD)
    if not tokens_match(session(request).csrf, given if isinstance(given, str) else None):
        raise Forbidden("the form's CSRF token is missing or stale: reload the page and retry")
    return {k: v for k, v in form.items() if isinstance(v, str)}


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """A page with what every template needs: the user, the CSRF token, the active page."""
    parts = console(request)
    who = parts.principal(session(request))
    context.setdefault("page", template.split(".")[0])
    return TEMPLATES.TemplateResponse(
        request,
        template,
        {
            "user": who,
            "csrf": session(request).csrf,
            "csrf_field": CSRF_FIELD,
            "open_mode": parts.open_mode,
            "backend": parts.sources.clients.kind,
            "may_act": who is not None and who.may(Role.ANALYST),
            **context,
        },
        status_code=status_code,
    )
