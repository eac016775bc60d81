"""The audit log, and the pages of capabilities that are not on main yet."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from stream_sentinel.console.web import Console, Principal, console, render, viewer

router = APIRouter()

#: page -> (title, what it will show, the capability it waits for)
PENDING = {
    "drift": (
        "Drift",
        "feature, prediction and performance drift with their thresholds, and drift events",
        "the drift monitors of the learning plane",
    ),
    "experiments": (
        "Experiments",
        "champion/challenger experiments: arms, per-arm metrics, the sequential test",
        "the experiments of the learning plane",
    ),
}


@router.get("/audit")
def audit_page(
    request: Request, who: Principal = Depends(viewer), parts: Console = Depends(console)
) -> Response:
    return render(request, "audit.html", entries=parts.audit.recent(200))


@router.get("/api/audit")
def audit_json(who: Principal = Depends(viewer), parts: Console = Depends(console)) -> Any:
    return {"entries": [asdict(e) for e in parts.audit.recent(200)]}


def _pending(name: str) -> Any:
    title, shows, waits_for = PENDING[name]

    def page(request: Request, who: Principal = Depends(viewer)) -> Response:
        return render(
            request, "pending.html", page=name, title=title, shows=shows, waits_for=waits_for
        )

    return page


for _name in PENDING:
    router.add_api_route(f"/{_name}", _pending(_name), methods=["GET"])
