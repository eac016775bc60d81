"""Schemas: subjects, versions and text, a diff between versions, compatibility, a test."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from stream_sentinel.console.schemas_view import pretty, schema_diff, subjects, test_schema
from stream_sentinel.console.web import Console, Principal, console, csrf_checked, render, viewer

router = APIRouter()


@router.get("/schemas")
def schemas_page(
    request: Request, who: Principal = Depends(viewer), parts: Console = Depends(console)
) -> Response:
    registry = parts.sources.registry
    return render(
        request,
        "schemas.html",
        subjects=subjects(registry, parts.sources.topics.prefix),
        global_level=registry.get_compatibility(),
    )


@router.get("/api/schemas")
def schemas_json(who: Principal = Depends(viewer), parts: Console = Depends(console)) -> Any:
    registry = parts.sources.registry
    return {
        "global_compatibility": registry.get_compatibility(),
        "subjects": [s.as_json() for s in subjects(registry, parts.sources.topics.prefix)],
    }


def _subject_context(
    parts: Console, subject: str, version: str, against: str | None
) -> dict[str, Any]:
    registry = parts.sources.registry
    chosen = registry.get_version(subject, version)
    versions = registry.versions(subject)
    diff: list[str] = []
    if against:
        diff = schema_diff(registry.get_version(subject, against), chosen)
    return {
        "subject": subject,
        "chosen": chosen,
        "text": pretty(chosen.schema),
        "versions": versions,
        "against": against,
        "diff": diff,
        "level": registry.get_compatibility(subject),
    }


@router.get("/schemas/{subject}")
def subject_page(
    request: Request,
    subject: str,
    version: str = "latest",
    against: str | None = None,
    who: Principal = Depends(viewer),
    parts: Console = Depends(console),
) -> Response:
    context = _subject_context(parts, subject, version, against or None)
    return render(request, "subject.html", page="schemas", verdict=None, candidate="", **context)


@router.get("/api/schemas/{subject}/versions/{version}")
def subject_version_json(
    subject: str, version: str, who: Principal = Depends(viewer), parts: Console = Depends(console)
) -> Any:
    found = parts.sources.registry.get_version(subject, version)
    return {
        "subject": found.subject,
        "version": found.version,
        "id": found.schema_id,
        "schema": found.schema,
        "compatibility": parts.sources.registry.get_compatibility(subject),
    }


@router.post("/schemas/{subject}/test")
def subject_test(
    request: Request,
    subject: str,
    form: dict[str, str] = Depends(csrf_checked),
    who: Principal = Depends(viewer),
    parts: Console = Depends(console),
) -> Response:
    """Would this schema be accepted under the subject? (Reads only: nothing is registered.)"""
    candidate = form.get("schema", "")
    compatible, messages = test_schema(parts.sources.registry, subject, candidate)
    context = _subject_context(parts, subject, "latest", None)
    verdict = {"compatible": compatible, "messages": messages}
    return render(
        request, "subject.html", page="schemas", verdict=verdict, candidate=candidate, **context
    )
