"""The console app: its parts, the session cookie, error pages, static files and the routes.

>>> from stream_sentinel.clients.backends import EmbeddedClients
>>> from stream_sentinel.config import load_settings
>>> from stream_sentinel.console.settings import load_console_settings
>>> app = create_app(EmbeddedClients(), load_settings(environ={}), load_console_settings({}))
>>> app.title
'Stream-Sentinel console'
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from stream_sentinel.clients.backends import ClientFactory
from stream_sentinel.clock import SYSTEM_CLOCK, Clock
from stream_sentinel.config import Settings
from stream_sentinel.console import (
    routes_auth,
    routes_cases,
    routes_drift,
    routes_experiments,
    routes_kafka,
    routes_misc,
    routes_models,
    routes_overview,
    routes_redis,
    routes_schemas,
)
from stream_sentinel.console.audit import AuditLog
from stream_sentinel.console.messages import MessageBrowser
from stream_sentinel.console.overview import OverviewSampler
from stream_sentinel.console.sessions import COOKIE, Session, SessionCodec
from stream_sentinel.console.settings import ConsoleSettings
from stream_sentinel.console.sources import ConsoleSources
from stream_sentinel.console.users import UserBook
from stream_sentinel.console.web import Console, Forbidden, LoginRequired, render, session_secret
from stream_sentinel.errors import ConfigError, SentinelError, UsageError

STATIC = Path(__file__).parent / "static"
ROUTERS = (
    routes_auth,
    routes_overview,
    routes_kafka,
    routes_schemas,
    routes_redis,
    routes_cases,
    routes_models,
    routes_drift,
    routes_experiments,
    routes_misc,
)


def build_console(
    clients: ClientFactory,
    settings: Settings,
    console_settings: ConsoleSettings,
    users: UserBook | None = None,
    clock: Clock = SYSTEM_CLOCK,
) -> Console:
    """The console's parts; refuses a non-loopback address without users (ConfigError)."""
    book = checked_users(console_settings, users)
    sources = ConsoleSources(clients, settings, clock)
    return Console(
        settings=console_settings,
        sources=sources,
        users=book,
        codec=SessionCodec(session_secret(console_settings), console_settings.session_ttl_s),
        sampler=OverviewSampler(sources, console_settings.sample_interval_s or 5.0),
        browser=MessageBrowser(
            sources.broker, sources.decoder, console_settings.max_records, lambda: sources.admin
        ),
        audit=AuditLog(sources.state, clock),
    )


def checked_users(console_settings: ConsoleSettings, users: UserBook | None = None) -> UserBook:
    """The users (from the users file unless given); ConfigError when there are none and the
    console would listen beyond loopback."""
    book = UserBook.load(console_settings.users_path) if users is None else users
    if not book and not console_settings.loopback:
        raise ConfigError(
            f"the console refuses to listen on {console_settings.host} without users: anyone "
            "who can reach it could resolve cases. Add one with `stream-sentinel console "
            "add-user NAME --role admin --password-stdin`, or bind to 127.0.0.1"
        )
    return book


def _sampling(parts: Console, stop: threading.Event) -> None:
    while not stop.wait(parts.settings.sample_interval_s):
        try:
            parts.sampler.sample()
        except SentinelError:
            continue  # a service down for a moment: the chart shows a gap, the next try goes on


def create_app(
    clients: ClientFactory,
    settings: Settings,
    console_settings: ConsoleSettings,
    users: UserBook | None = None,
    clock: Clock = SYSTEM_CLOCK,
) -> FastAPI:
    """The console as an ASGI app, reading through ``clients`` (embedded or real)."""
    parts = build_console(clients, settings, console_settings, users, clock)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        stop = threading.Event()
        if console_settings.sample_interval_s > 0:
            threading.Thread(target=_sampling, args=(parts, stop), daemon=True).start()
        try:
            yield
        finally:
            stop.set()
            parts.sources.close()

    app = FastAPI(title="Stream-Sentinel console", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.console = parts
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for module in ROUTERS:
        app.include_router(module.router)
    _install_session(app, parts)
    _install_errors(app)
    return app


def _install_session(app: FastAPI, parts: Console) -> None:
    secure = not parts.settings.loopback

    @app.middleware("http")
    async def with_session(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        loaded = parts.codec.loads(request.cookies.get(COOKIE))
        request.state.session = loaded or Session.fresh()
        response = await call_next(request)
        current: Session = request.state.session
        if current != loaded:
            response.set_cookie(
                COOKIE,
                parts.codec.dumps(current),
                max_age=parts.settings.session_ttl_s,
                httponly=True,
                samesite="strict",
                secure=secure,
                path="/",
            )
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        return response


def _install_errors(app: FastAPI) -> None:
    def wants_json(request: Request) -> bool:
        return request.url.path.startswith("/api/")

    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, exc: LoginRequired) -> Response:
        if wants_json(request):
            return JSONResponse({"error": "login required"}, status_code=401)
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={target}", status_code=303)

    @app.exception_handler(Forbidden)
    async def forbidden(request: Request, exc: Forbidden) -> Response:
        if wants_json(request):
            return JSONResponse({"error": exc.message}, status_code=403)
        return render(request, "error.html", 403, title="Not allowed", message=exc.message)

    @app.exception_handler(SentinelError)
    async def failed(request: Request, exc: SentinelError) -> Response:
        status = 400 if isinstance(exc, UsageError) else 503
        if wants_json(request):
            return JSONResponse({"error": str(exc)}, status_code=status)
        return render(request, "error.html", status, title="Could not do that", message=str(exc))
