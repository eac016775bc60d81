"""Login and logout (both forms carry the session's CSRF token)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from stream_sentinel.console.sessions import Session
from stream_sentinel.console.web import Console, console, csrf_checked, render, session

router = APIRouter()


def _safe_next(target: str | None) -> str:
    """Only paths on this console: a login link cannot send the user elsewhere."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


@router.get("/login")
def login_page(request: Request, next: str | None = None) -> Response:
    return render(request, "login.html", next=_safe_next(next), problem=None)


@router.post("/login")
def login(
    request: Request,
    form: dict[str, str] = Depends(csrf_checked),
    parts: Console = Depends(console),
) -> Response:
    name, password = form.get("username", ""), form.get("password", "")
    user = parts.users.authenticate(name, password)
    target = _safe_next(form.get("next"))
    if user is None:
        parts.audit.record(name or "-", "-", "login_failed", name or "-")
        return render(
            request, "login.html", 401, next=target, problem="unknown user or wrong password"
        )
    request.state.session = session(request).signed_in(user.name)
    parts.audit.record(user.name, user.role.label, "login", user.name)
    return RedirectResponse(target, status_code=303)


@router.post("/logout")
def logout(
    request: Request,
    form: dict[str, str] = Depends(csrf_checked),
    parts: Console = Depends(console),
) -> Response:
    who = session(request).user
    if who:
        parts.audit.record(who, "-", "logout", who)
    request.state.session = Session.fresh()
    return RedirectResponse("/login", status_code=303)
