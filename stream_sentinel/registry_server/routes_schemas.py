"""``/schemas/...`` and ``/compatibility/...`` routes: schemas by id and compatibility checks."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from starlette.responses import Response

from stream_sentinel.registry_server.avro_schema import SUPPORTED_TYPES
from stream_sentinel.registry_server.http_support import flag, json_body
from stream_sentinel.registry_server.raw_paths import segment
from stream_sentinel.registry_server.routing import (
    call,
    core_of,
    page,
    raw_schema,
    references_json,
    schema_id,
    version_body,
)


def add_schema_routes(app: FastAPI) -> None:
    @app.get("/schemas")
    async def list_schemas(request: Request) -> list[dict[str, Any]]:
        core = core_of(request)
        found = await call(
            core.list_schemas,
            request.query_params.get("subjectPrefix", ""),
            flag(request, "deleted"),
            flag(request, "latestOnly"),
        )
        return page(request, [version_body(core, registered) for registered in found])

    @app.get("/schemas/types")
    async def schema_types() -> list[str]:
        return list(SUPPORTED_TYPES)

    @app.get("/schemas/ids/{id_}")
    async def schema_by_id(request: Request, id_: str) -> dict[str, Any]:
        found = await call(core_of(request).schema_with_references, schema_id(id_))
        body: dict[str, Any] = {"schema": found.schema}
        if found.references:
            body["references"] = references_json(found.references)
        return body

    @app.get("/schemas/ids/{id_}/schema")
    async def raw_schema_by_id(request: Request, id_: str) -> Response:
        return raw_schema(await call(core_of(request).schema_by_id, schema_id(id_)))

    @app.get("/schemas/ids/{id_}/versions")
    async def id_versions(request: Request, id_: str) -> list[dict[str, Any]]:
        core = core_of(request)
        pairs = await call(core.id_versions, schema_id(id_), flag(request, "deleted"))
        return page(request, [{"subject": s, "version": v} for s, v in pairs])

    @app.get("/schemas/ids/{id_}/subjects")
    async def id_subjects(request: Request, id_: str) -> list[str]:
        core = core_of(request)
        return page(request, await call(core.id_subjects, schema_id(id_), flag(request, "deleted")))

    _add_compatibility_routes(app)


def _add_compatibility_routes(app: FastAPI) -> None:
    async def verdict(request: Request, subject: str, version: str | None) -> dict[str, Any]:
        body = await json_body(request)
        result = await call(
            core_of(request).test_compatibility,
            segment(subject),
            body.get("schema"),
            version,
            body.get("schemaType"),
            body.get("references"),
        )
        answer: dict[str, Any] = {"is_compatible": result.is_compatible}
        if flag(request, "verbose"):
            answer["messages"] = list(result.messages)
        return answer

    @app.post("/compatibility/subjects/{subject}/versions/{version}")
    async def check_version(request: Request, subject: str, version: str) -> dict[str, Any]:
        return await verdict(request, subject, version)

    @app.post("/compatibility/subjects/{subject}/versions")
    async def check_all(request: Request, subject: str) -> dict[str, Any]:
        return await verdict(request, subject, None)
