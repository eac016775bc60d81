"""Champion/challenger experiments, read-only: the list, one experiment, their JSON twins."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from stream_sentinel.console.experiments_chart import trail_chart
from stream_sentinel.console.experiments_view import list_experiments, show_experiment, unknown
from stream_sentinel.console.web import Console, Principal, console, render, viewer

router = APIRouter()


@router.get("/experiments")
def experiments_page(
    request: Request, who: Principal = Depends(viewer), parts: Console = Depends(console)
) -> Response:
    found = list_experiments(parts.sources)
    return render(request, "experiments.html", page="experiments", experiments=found)


@router.get("/experiments/{experiment_id}")
def experiment_page(
    request: Request,
    experiment_id: str,
    who: Principal = Depends(viewer),
    parts: Console = Depends(console),
) -> Response:
    found = show_experiment(parts.sources, experiment_id)
    if found is None:
        return render(
            request,
            "error.html",
            404,
            page="experiments",
            title="No such experiment",
            message=unknown(experiment_id),
        )
    chart = trail_chart(found["trail"])
    return render(request, "experiment.html", page="experiments", experiment=found, chart=chart)


@router.get("/api/experiments")
def experiments_json(who: Principal = Depends(viewer), parts: Console = Depends(console)) -> Any:
    return list_experiments(parts.sources)


@router.get("/api/experiments/{experiment_id}")
def experiment_json(
    experiment_id: str, who: Principal = Depends(viewer), parts: Console = Depends(console)
) -> Any:
    found = show_experiment(parts.sources, experiment_id)
    if found is None:
        return JSONResponse({"error": unknown(experiment_id)}, status_code=404)
    return found
