"""What every route module shares: the core of a request, worker threads, bodies and paging."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from stream_sentinel.errors import RegistryError
from stream_sentinel.registry.client import RegisteredSchema
from stream_sentinel.registry_server import errors
from stream_sentinel.registry_server.core import RegistryCore
from stream_sentinel.registry_server.http_support import MEDIA_TYPE, flag
from stream_sentinel.registry_server.references import Reference

T = TypeVar("T")


def core_of(request: Request) -> RegistryCore:
    core: RegistryCore = request.app.state.core
    return core


async def call(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Core calls run in a worker thread: a write waits for Kafka's acknowledgement."""
    return await run_in_threadpool(function, *args, **kwargs)


def references_json(references: tuple[Reference, ...]) -> list[dict[str, Any]]:
    return [reference.as_json() for reference in references]


def version_body(core: RegistryCore, registered: RegisteredSchema) -> dict[str, Any]:
    """Confluent's version object; ``references`` only when there are some, as Confluent."""
    body: dict[str, Any] = {
        "subject": registered.subject,
        "version": registered.version,
        "id": registered.schema_id,
        "schema": registered.schema,
    }
    if registered.schema_type != "AVRO":
        body["schemaType"] = registered.schema_type
    references = core.references(registered.schema_id)
    if references:
        body["references"] = references_json(references)
    return body


def raw_schema(text: str) -> Response:
    return Response(text.encode(), media_type=MEDIA_TYPE)


def schema_id(raw: str) -> int:
    """A path's schema id; a non-number is Confluent's route-level 404 (Jersey's Integer)."""
    try:
        return int(raw)
    except ValueError:
        raise RegistryError("HTTP 404 Not Found", 404, 404) from None


def listing(request: Request, source: Callable[[bool], list[T]]) -> Callable[[], list[T]]:
    """A listing honouring ``deleted``, ``deleted_only``, ``offset`` and ``limit``."""

    def listed() -> list[T]:
        if not flag(request, "deleted_only"):
            return page(request, source(flag(request, "deleted")))
        every = source(True)
        live = set(_live_or_nothing(source))
        return page(request, [item for item in every if item not in live])

    return listed


def _live_or_nothing(source: Callable[[bool], list[T]]) -> list[T]:
    try:
        return source(False)
    except RegistryError:
        return []  # a soft-deleted subject has no live versions


def page(request: Request, items: list[T]) -> list[T]:
    offset = max(int_param(request, "offset", 0), 0)
    limit = int_param(request, "limit", -1)
    return items[offset:] if limit < 0 else items[offset : offset + limit]


def int_param(request: Request, name: str, default: int) -> int:
    try:
        return int(request.query_params.get(name, default))
    except ValueError:
        raise errors.unprocessable(f"query parameter {name!r} must be an integer") from None


def optional_int(body: dict[str, Any], name: str) -> int | None:
    value = body.get(name)
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    raise errors.unprocessable(f"'{name}' must be an integer")
