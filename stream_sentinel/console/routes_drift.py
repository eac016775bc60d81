"""The Drift page, read-only: what the drift service keeps in DB4, per model version."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from stream_sentinel.console.drift_view import drift_page, psi_series, score_chart
from stream_sentinel.console.web import Console, Principal, console, render, viewer

router = APIRouter()


@router.get("/drift")
def drift_html(
    request: Request, who: Principal = Depends(viewer), parts: Console = Depends(console)
) -> Response:
    found = drift_page(parts.sources)
    charts = {v["version"]: score_chart(v["prediction"]) for v in found["versions"]}
    return render(request, "drift.html", page="drift", drift=found, score_charts=charts)


@router.get("/api/drift")
def drift_json(who: Principal = Depends(viewer), parts: Console = Depends(console)) -> Any:
    return drift_page(parts.sources)


@router.get("/api/drift/{version}/series")
def drift_series(
    version: str, who: Principal = Depends(viewer), parts: Console = Depends(console)
) -> Any:
    return psi_series(parts.sources, version)
