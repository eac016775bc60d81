"""The audit log: every login, logout, resolve and unblock, newest first."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from stream_sentinel.console.web import Console, Principal, console, render, viewer

router = APIRouter()


@router.get("/audit")
def audit_page(
    request: Request, who: Principal = Depends(viewer), parts: Console = Depends(console)
) -> Response:
    return render(request, "audit.html", entries=parts.audit.recent(200))


@router.get("/api/audit")
def audit_json(who: Principal = Depends(viewer), parts: Console = Depends(console)) -> Any:
    return {"entries": [asdict(e) for e in parts.audit.recent(200)]}
