"""``/subjects/...`` routes: registering, listing, looking up and deleting versions.

Subjects arrive percent-encoded (see ``raw_paths.py``) and are decoded here, once per route.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from starlette.responses import Response

from stream_sentinel.registry_server.http_support import flag, json_body
from stream_sentinel.registry_server.raw_paths import segment
from stream_sentinel.registry_server.routing import (
    call,
    core_of,
    listing,
    optional_int,
    page,
    raw_schema,
    version_body,
)


def add_subject_routes(app: FastAPI) -> None:
    @app.get("/subjects")
    async def list_subjects(request: Request) -> list[str]:
        prefix = request.query_params.get("subjectPrefix", "")
        listed = listing(request, lambda deleted: core_of(request).subjects(deleted, prefix))
        return await call(listed)

    @app.get("/subjects/{subject}/versions")
    async def list_versions(request: Request, subject: str) -> list[int]:
        name = segment(subject)
        return await call(
            listing(request, lambda deleted: core_of(request).versions(name, deleted))
        )

    @app.post("/subjects/{subject}/versions")
    async def register(request: Request, subject: str) -> dict[str, Any]:
        body = await json_body(request)
        registered = await call(
            core_of(request).register,
            segment(subject),
            body.get("schema"),
            body.get("schemaType"),
            body.get("references"),
            optional_int(body, "id"),
            optional_int(body, "version"),
        )
        return {"id": registered.schema_id}

    @app.post("/subjects/{subject}")
    async def lookup(request: Request, subject: str) -> dict[str, Any]:
        body = await json_body(request)
        core = core_of(request)
        found = await call(
            core.lookup,
            segment(subject),
            body.get("schema"),
            body.get("schemaType"),
            body.get("references"),
            flag(request, "deleted"),
        )
        return version_body(core, found)

    @app.delete("/subjects/{subject}")
    async def delete_subject(request: Request, subject: str) -> list[int]:
        core = core_of(request)
        return await call(core.delete_subject, segment(subject), flag(request, "permanent"))

    _add_version_routes(app)


def _add_version_routes(app: FastAPI) -> None:
    @app.get("/subjects/{subject}/versions/{version}")
    async def get_version(request: Request, subject: str, version: str) -> dict[str, Any]:
        core = core_of(request)
        found = await call(core.get_version, segment(subject), version, flag(request, "deleted"))
        return version_body(core, found)

    @app.get("/subjects/{subject}/versions/{version}/schema")
    async def get_version_schema(request: Request, subject: str, version: str) -> Response:
        core = core_of(request)
        found = await call(core.get_version, segment(subject), version, flag(request, "deleted"))
        return raw_schema(found.schema)

    @app.get("/subjects/{subject}/versions/{version}/referencedby")
    async def referenced_by(request: Request, subject: str, version: str) -> list[int]:
        ids = await call(core_of(request).referenced_by, segment(subject), version)
        return page(request, ids)

    @app.delete("/subjects/{subject}/versions/{version}")
    async def delete_version(request: Request, subject: str, version: str) -> int:
        core = core_of(request)
        permanent = flag(request, "permanent")
        return await call(core.delete_version, segment(subject), version, permanent)
