"""The registry's REST API: Confluent Schema Registry's endpoints for Avro, over RegistryCore.

Handlers only translate HTTP to core calls and back; every rule lives in
:mod:`~stream_sentinel.registry_server.core`. Core calls run in a worker thread because a write
waits for Kafka's acknowledgement.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from fastapi import FastAPI, Request
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.responses import Response

from stream_sentinel.errors import RegistryError
from stream_sentinel.registry.client import RegisteredSchema
from stream_sentinel.registry_server import errors
from stream_sentinel.registry_server.avro_schema import SUPPORTED_TYPES
from stream_sentinel.registry_server.core import RegistryCore
from stream_sentinel.registry_server.http_support import (
    BodyLimit,
    RegistryResponse,
    error_response,
    flag,
    json_body,
    registry_error_response,
)
from stream_sentinel.registry_server.limits import MAX_REQUEST_BYTES

log = logging.getLogger(__name__)
T = TypeVar("T")


def create_app(
    core: RegistryCore,
    max_request_bytes: int = MAX_REQUEST_BYTES,
    on_shutdown: Callable[[], None] | None = None,
) -> FastAPI:
    """The ASGI app serving ``core``; bodies over ``max_request_bytes`` get 413.

    The limit is at most :data:`~stream_sentinel.registry_server.limits.MAX_REQUEST_BYTES`: a
    larger body holds a schema too large for one ``_schemas`` record, which could never be stored.

    ``on_shutdown`` runs when the server stops (uvicorn re-raises SIGTERM after a graceful
    shutdown, so code after ``uvicorn.run`` would not run).
    """

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        if on_shutdown is not None:
            on_shutdown()

    app = FastAPI(
        lifespan=lifespan,
        title="Stream-Sentinel Schema Registry",
        default_response_class=RegistryResponse,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.core = core
    _add_error_handlers(app)
    _add_subject_routes(app)
    _add_schema_routes(app)
    _add_compatibility_routes(app)
    _add_config_routes(app)
    app.add_middleware(BodyLimit, limit=_body_limit(max_request_bytes))
    return app


def _body_limit(configured: int) -> int:
    if configured <= MAX_REQUEST_BYTES:
        return configured
    log.warning(
        "SENTINEL_REGISTRY_MAX_REQUEST_BYTES=%d is more than one _schemas record can hold; "
        "refusing bodies over %d bytes instead",
        configured,
        MAX_REQUEST_BYTES,
    )
    return MAX_REQUEST_BYTES


def _core(request: Request) -> RegistryCore:
    core: RegistryCore = request.app.state.core
    return core


async def _call(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    return await run_in_threadpool(function, *args, **kwargs)


def _version_body(registered: RegisteredSchema) -> dict[str, Any]:
    body: dict[str, Any] = {
        "subject": registered.subject,
        "version": registered.version,
        "id": registered.schema_id,
        "schema": registered.schema,
    }
    if registered.schema_type != "AVRO":
        body["schemaType"] = registered.schema_type
    return body


def _raw_schema(text: str) -> Response:
    return Response(text.encode(), media_type="application/vnd.schemaregistry.v1+json")


def _schema_id(raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise errors.schema_not_found() from None


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RegistryError)
    async def registry_error(_: Request, exc: RegistryError) -> Response:
        return registry_error_response(exc)

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, exc: HTTPException) -> Response:
        return error_response(
            exc.status_code, exc.status_code, f"HTTP {exc.status_code} {exc.detail}"
        )

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> Response:
        return error_response(500, errors.STORE_ERROR, f"Internal error: {exc}")


def _add_subject_routes(app: FastAPI) -> None:
    @app.get("/")
    async def root() -> dict[str, Any]:
        return {}

    @app.get("/subjects")
    async def list_subjects(request: Request) -> list[str]:
        prefix = request.query_params.get("subjectPrefix", "")
        listed = _listing(request, lambda deleted: _core(request).subjects(deleted, prefix))
        return await _call(listed)

    @app.get("/subjects/{subject}/versions")
    async def list_versions(request: Request, subject: str) -> list[int]:
        return await _call(
            _listing(request, lambda deleted: _core(request).versions(subject, deleted))
        )

    @app.post("/subjects/{subject}/versions")
    async def register(request: Request, subject: str) -> dict[str, Any]:
        body = await json_body(request)
        registered = await _call(
            _core(request).register,
            subject,
            body.get("schema"),
            body.get("schemaType"),
            body.get("references"),
            _optional_int(body, "id"),
            _optional_int(body, "version"),
        )
        return {"id": registered.schema_id}

    _add_version_routes(app)


def _add_version_routes(app: FastAPI) -> None:
    @app.get("/subjects/{subject}/versions/{version}")
    async def get_version(request: Request, subject: str, version: str) -> dict[str, Any]:
        found = await _call(_core(request).get_version, subject, version, flag(request, "deleted"))
        return _version_body(found)

    @app.get("/subjects/{subject}/versions/{version}/schema")
    async def get_version_schema(request: Request, subject: str, version: str) -> Response:
        found = await _call(_core(request).get_version, subject, version, flag(request, "deleted"))
        return _raw_schema(found.schema)

    @app.post("/subjects/{subject}")
    async def lookup(request: Request, subject: str) -> dict[str, Any]:
        body = await json_body(request)
        found = await _call(
            _core(request).lookup,
            subject,
            body.get("schema"),
            body.get("schemaType"),
            body.get("references"),
            flag(request, "deleted"),
        )
        return _version_body(found)

    @app.delete("/subjects/{subject}")
    async def delete_subject(request: Request, subject: str) -> list[int]:
        return await _call(_core(request).delete_subject, subject, flag(request, "permanent"))

    @app.delete("/subjects/{subject}/versions/{version}")
    async def delete_version(request: Request, subject: str, version: str) -> int:
        core = _core(request)
        return await _call(core.delete_version, subject, version, flag(request, "permanent"))


def _listing(request: Request, source: Callable[[bool], list[T]]) -> Callable[[], list[T]]:
    """A listing honouring ``deleted``, ``deleted_only``, ``offset`` and ``limit``."""

    def listed() -> list[T]:
        if not flag(request, "deleted_only"):
            return _page(request, source(flag(request, "deleted")))
        every = source(True)
        live = set(_live_or_nothing(source))
        return _page(request, [item for item in every if item not in live])

    return listed


def _live_or_nothing(source: Callable[[bool], list[T]]) -> list[T]:
    try:
        return source(False)
    except RegistryError:
        return []  # a soft-deleted subject has no live versions


def _page(request: Request, items: list[T]) -> list[T]:
    offset = max(_int_param(request, "offset", 0), 0)
    limit = _int_param(request, "limit", -1)
    return items[offset:] if limit < 0 else items[offset : offset + limit]


def _int_param(request: Request, name: str, default: int) -> int:
    try:
        return int(request.query_params.get(name, default))
    except ValueError:
        raise errors.unprocessable(f"query parameter {name!r} must be an integer") from None


def _optional_int(body: dict[str, Any], name: str) -> int | None:
    value = body.get(name)
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    raise errors.unprocessable(f"'{name}' must be an integer")


def _add_schema_routes(app: FastAPI) -> None:
    @app.get("/schemas/types")
    async def schema_types() -> list[str]:
        return list(SUPPORTED_TYPES)

    @app.get("/schemas/ids/{schema_id}")
    async def schema_by_id(request: Request, schema_id: str) -> dict[str, Any]:
        return {"schema": await _call(_core(request).schema_by_id, _schema_id(schema_id))}

    @app.get("/schemas/ids/{schema_id}/schema")
    async def raw_schema_by_id(request: Request, schema_id: str) -> Response:
        return _raw_schema(await _call(_core(request).schema_by_id, _schema_id(schema_id)))

    @app.get("/schemas/ids/{schema_id}/versions")
    async def id_versions(request: Request, schema_id: str) -> list[dict[str, Any]]:
        pairs = await _call(
            _core(request).id_versions, _schema_id(schema_id), flag(request, "deleted")
        )
        return _page(request, [{"subject": s, "version": v} for s, v in pairs])

    @app.get("/schemas/ids/{schema_id}/subjects")
    async def id_subjects(request: Request, schema_id: str) -> list[str]:
        core = _core(request)
        return await _call(core.id_subjects, _schema_id(schema_id), flag(request, "deleted"))


def _add_compatibility_routes(app: FastAPI) -> None:
    async def verdict(request: Request, subject: str, version: str | None) -> dict[str, Any]:
        body = await json_body(request)
        result = await _call(
            _core(request).test_compatibility,
            subject,
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


def _add_config_routes(app: FastAPI) -> None:
    @app.get("/config")
    async def global_config(request: Request) -> dict[str, Any]:
        return {"compatibilityLevel": (await _call(_core(request).get_config)).value}

    @app.put("/config")
    async def set_global_config(request: Request) -> dict[str, Any]:
        level = _level_of(await json_body(request))
        return {"compatibility": (await _call(_core(request).set_config, level)).value}

    @app.delete("/config")
    async def delete_global_config(request: Request) -> dict[str, Any]:
        return {"compatibilityLevel": (await _call(_core(request).delete_config)).value}

    @app.get("/config/{subject}")
    async def subject_config(request: Request, subject: str) -> dict[str, Any]:
        core = _core(request)
        level = await _call(core.get_config, subject, flag(request, "defaultToGlobal"))
        return {"compatibilityLevel": level.value}

    @app.put("/config/{subject}")
    async def set_subject_config(request: Request, subject: str) -> dict[str, Any]:
        level = _level_of(await json_body(request))
        return {"compatibility": (await _call(_core(request).set_config, level, subject)).value}

    @app.delete("/config/{subject}")
    async def delete_subject_config(request: Request, subject: str) -> dict[str, Any]:
        level = await _call(_core(request).delete_config, subject)
        return {"compatibilityLevel": level.value}

    @app.get("/mode")
    async def get_mode(request: Request) -> dict[str, Any]:
        return {"mode": await _call(_core(request).get_mode)}

    @app.put("/mode")
    async def set_mode(request: Request) -> dict[str, Any]:
        body = await json_body(request)
        mode = await _call(_core(request).set_mode, body.get("mode"), flag(request, "force"))
        return {"mode": mode}


def _level_of(body: dict[str, Any]) -> Any:
    # Confluent's clients send "compatibility"; some tools send "compatibilityLevel".
    return body.get("compatibility", body.get("compatibilityLevel"))
