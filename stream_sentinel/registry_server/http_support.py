"""HTTP plumbing of the registry: its media type, error bodies, request bodies and size limit."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from stream_sentinel.errors import RegistryError
from stream_sentinel.registry_server import errors
from stream_sentinel.registry_server.limits import MAX_JSON_DEPTH, json_depth

MEDIA_TYPE = "application/vnd.schemaregistry.v1+json"
# Confluent's @Consumes list: its media types, plain JSON, and octet-stream (read as JSON).
JSON_MEDIA_TYPES = (
    MEDIA_TYPE,
    "application/vnd.schemaregistry+json",
    "application/json",
    "application/octet-stream",
)


class RegistryResponse(JSONResponse):
    """JSON in Confluent's media type."""

    media_type = MEDIA_TYPE


def error_response(status: int, error_code: int, message: str) -> Response:
    """Confluent's error body: ``{"error_code": ..., "message": ...}``."""
    return RegistryResponse({"error_code": error_code, "message": message}, status_code=status)


def registry_error_response(exc: RegistryError) -> Response:
    return error_response(exc.http_status, exc.error_code, str(exc))


async def json_body(request: Request) -> dict[str, Any]:
    """The request body as a JSON object; 415 not JSON, 400 malformed or too deep, 422 no object."""
    _require_json_media_type(request)
    text = _decoded(await request.body() or b"null")
    if json_depth(text) > MAX_JSON_DEPTH:
        raise errors.bad_request(
            f"The request body nests JSON arrays and objects more than {MAX_JSON_DEPTH} levels "
            f"deep; the limit is {MAX_JSON_DEPTH}"
        )
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise errors.bad_request(f"Malformed JSON in the request body: {exc}") from None
    if not isinstance(document, dict):
        raise errors.unprocessable("The request body must be a JSON object")
    return document


def _require_json_media_type(request: Request) -> None:
    declared = request.headers.get("content-type", "")
    media_type = declared.split(";", 1)[0].strip().lower()
    # No Content-Type is accepted: Confluent reads it as application/octet-stream, i.e. JSON.
    if media_type and media_type not in JSON_MEDIA_TYPES:
        raise errors.unsupported_media_type(declared, JSON_MEDIA_TYPES)


def _decoded(raw: bytes) -> str:
    try:
        return raw.decode(json.detect_encoding(raw))  # UTF-8, -16 or -32, as json.loads reads
    except UnicodeDecodeError as exc:
        raise errors.bad_request(f"Malformed JSON in the request body: {exc}") from None


def flag(request: Request, name: str) -> bool:
    """A boolean query parameter (``true``/``True``/``1``, as clients send them)."""
    return request.query_params.get(name, "false").strip().lower() in ("true", "1", "yes")


class BodyLimit:
    """Refuses request bodies over ``limit`` bytes with 413 before the app reads them."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.limit:
            await self._refuse(scope, receive, send, declared)
            return
        await self.app(scope, self._counting(receive), send)

    def _counting(self, receive: Receive) -> Receive:
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise RegistryError(self._message(seen), 413, 413)
            return message

        return counted

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, size: int) -> None:
        response = error_response(413, 413, self._message(size))
        await response(scope, receive, send)

    def _message(self, size: int) -> str:
        return (
            f"Request body of {size} bytes exceeds the limit of {self.limit} bytes "
            "(SENTINEL_REGISTRY_MAX_REQUEST_BYTES)"
        )


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
