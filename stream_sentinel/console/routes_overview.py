"""The overview: throughput, latency, lag, decisions, alerts, dead letters, Redis memory."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from stream_sentinel.console.overview import Overview, read_overview
from stream_sentinel.console.web import Console, Principal, console, render, viewer

router = APIRouter()


def _overview(parts: Console) -> Overview:
    if parts.settings.sample_interval_s == 0:
        parts.sampler.sample()  # no sampling thread: each request is a sample
    return read_overview(parts.sampler, parts.browser)


@router.get("/")
def overview_page(
    request: Request, who: Principal = Depends(viewer), parts: Console = Depends(console)
) -> Response:
    return render(request, "overview.html", overview=_overview(parts), page="overview")


@router.get("/fragments/overview")
def overview_fragment(
    request: Request, who: Principal = Depends(viewer), parts: Console = Depends(console)
) -> Response:
    return render(request, "overview_figures.html", overview=_overview(parts), page="overview")


@router.get("/api/overview")
def overview_json(who: Principal = Depends(viewer), parts: Console = Depends(console)) -> Any:
    return _overview(parts).as_json()


@router.get("/api/overview/series")
def overview_series(who: Principal = Depends(viewer), parts: Console = Depends(console)) -> Any:
    return parts.sampler.series()
