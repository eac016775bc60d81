"""The registry's REST API: Confluent Schema Registry's endpoints for Avro, over RegistryCore.

Handlers (``routes_*.py``) only translate HTTP to core calls and back; every rule lives in
:mod:`~stream_sentinel.registry_server.core`. Around them: the request size limit, content
negotiation, routing on the raw path (so subjects may hold ``/``) and, with several instances,
forwarding writes to the leader.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from starlette.exceptions import HTTPException
from starlette.responses import Response

from stream_sentinel.errors import RegistryError
from stream_sentinel.registry_server import errors
from stream_sentinel.registry_server.auth import BasicAuth, RegistryUser
from stream_sentinel.registry_server.core import RegistryCore
from stream_sentinel.registry_server.forwarding import LeaderForwarding
from stream_sentinel.registry_server.http_support import (
    BodyLimit,
    RegistryResponse,
    error_response,
    registry_error_response,
)
from stream_sentinel.registry_server.limits import MAX_REQUEST_BYTES
from stream_sentinel.registry_server.negotiation import ContentNegotiation
from stream_sentinel.registry_server.raw_paths import RawPathRouting
from stream_sentinel.registry_server.routes_config import add_config_routes
from stream_sentinel.registry_server.routes_schemas import add_schema_routes
from stream_sentinel.registry_server.routes_subjects import add_subject_routes
from stream_sentinel.registry_server.service import LEADER_HEADER

log = logging.getLogger(__name__)


def create_app(
    core: RegistryCore,
    max_request_bytes: int = MAX_REQUEST_BYTES,
    on_shutdown: Callable[[], None] | None = None,
    forward_writes: bool = False,
    users: Mapping[str, RegistryUser] | None = None,
) -> FastAPI:
    """The ASGI app serving ``core``; bodies over ``max_request_bytes`` get 413.

    The limit is at most :data:`~stream_sentinel.registry_server.limits.MAX_REQUEST_BYTES`: a
    larger body holds a schema too large for one ``_schemas`` record, which could never be stored.

    ``on_shutdown`` runs when the server stops (uvicorn re-raises SIGTERM after a graceful
    shutdown, so code after ``uvicorn.run`` would not run). With ``forward_writes``, writes are
    sent to the core's leader unless this instance leads. With ``users``: basic auth and roles.
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

    @app.get("/")
    async def root() -> Response:
        leads = "true" if core.leadership.is_writable() else "false"  # which instance leads
        return RegistryResponse({}, headers={LEADER_HEADER: leads})

    add_subject_routes(app)
    add_schema_routes(app)
    add_config_routes(app)
    if forward_writes:
        app.add_middleware(LeaderForwarding, leadership=core.leadership, follower=core.follower)
    app.add_middleware(RawPathRouting)
    app.add_middleware(ContentNegotiation)
    app.add_middleware(BodyLimit, limit=_body_limit(max_request_bytes))
    if users:  # outermost: nothing is read, forwarded or answered for a stranger
        app.add_middleware(BasicAuth, users=users)
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
