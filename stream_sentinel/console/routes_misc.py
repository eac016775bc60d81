"""The audit log, and the pages of capabilities that are not on main yet: each says so, and
lights up (the keys its Redis database holds, linked to the Redis page) once that has data."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from stream_sentinel.console.web import Console, Principal, console, render, viewer
from stream_sentinel.state.base import Batch, Namespace

router = APIRouter()

#: page -> (title, what it will show, the capability it waits for, its Redis database)
PENDING = {
    "experiments": (
        "Experiments",
        "champion/challenger experiments: arms, per-arm metrics, the sequential test",
        "the experiments of the learning plane (issue 19)",
        Namespace.EXPERIMENTS,
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


def _experiments(parts: Console) -> int:
    """How many experiments DB5 records (one ZCARD: never a scan of the namespace)."""
    from stream_sentinel.learning.experiments import keys

    [count] = parts.sources.state.execute(Batch().zcard(keys.NS, keys.INDEX))
    return int(count or 0)


def _pending(name: str) -> Any:
    title, shows, waits_for, database = PENDING[name]

    def page(
        request: Request, who: Principal = Depends(viewer), parts: Console = Depends(console)
    ) -> Response:
        return render(
            request,
            "pending.html",
            page=name,
            title=title,
            shows=shows,
            waits_for=waits_for,
            database=database,
            keys=_experiments(parts),
        )

    return page


for _name in PENDING:
    router.add_api_route(f"/{_name}", _pending(_name), methods=["GET"])
