"""The model registry, read-only: versions, one version, the alias history."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from stream_sentinel.console.models_view import list_models, show_model
from stream_sentinel.console.web import Console, Principal, console, render, viewer

router = APIRouter()


@router.get("/models")
def models_page(
    request: Request, who: Principal = Depends(viewer), parts: Console = Depends(console)
) -> Response:
    return render(request, "models.html", page="models", models=list_models(parts.sources))


@router.get("/models/{name}")
def model_page(
    request: Request,
    name: str,
    who: Principal = Depends(viewer),
    parts: Console = Depends(console),
) -> Response:
    return render(request, "model.html", page="models", model=show_model(parts.sources, name))


@router.get("/api/models")
def models_json(who: Principal = Depends(viewer), parts: Console = Depends(console)) -> Any:
    return list_models(parts.sources)


@router.get("/api/models/{name}")
def model_json(
    name: str, who: Principal = Depends(viewer), parts: Console = Depends(console)
) -> Any:
    return show_model(parts.sources, name)
