"""Content negotiation as Confluent's registry does it: the response type from ``Accept``.

The registry produces three types, preferred in this order (Confluent's server weights):
``application/vnd.schemaregistry.v1+json``, ``application/vnd.schemaregistry+json`` and
``application/json``. A request whose ``Accept`` admits none of them gets 406.

>>> negotiate(None)
'application/vnd.schemaregistry.v1+json'
>>> negotiate("application/json")
'application/json'
>>> negotiate("text/html") is None
True
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from stream_sentinel.registry_server import errors
from stream_sentinel.registry_server.http_support import MEDIA_TYPE, registry_error_response

#: What the registry produces, with the server's own weight for each.
OFFERED = (
    (MEDIA_TYPE, 1.0),
    ("application/vnd.schemaregistry+json", 0.9),
    ("application/json", 0.5),
)


def negotiate(accept: str | None) -> str | None:
    """The best offered type for an ``Accept`` header (None or empty: the first); None: 406."""
    if accept is None or not accept.strip():
        return OFFERED[0][0]
    ranges = [_media_range(part) for part in accept.split(",") if part.strip()]
    best, best_score = None, 0.0
    for offered, weight in OFFERED:
        quality = max((q for pattern, q in ranges if _matches(pattern, offered)), default=0.0)
        if quality * weight > best_score:
            best, best_score = offered, quality * weight
    return best


def _media_range(part: str) -> tuple[str, float]:
    pattern, *parameters = (piece.strip() for piece in part.split(";"))
    quality = 1.0
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "q":
            try:
                quality = min(max(float(value), 0.0), 1.0)
            except ValueError:
                quality = 0.0
    return pattern.lower(), quality


def _matches(pattern: str, offered: str) -> bool:
    if pattern in ("*/*", "*"):
        return True
    kind, _, subtype = pattern.partition("/")
    offered_kind, _, offered_subtype = offered.partition("/")
    return kind == offered_kind and subtype in ("*", offered_subtype)


class ContentNegotiation:
    """406 for an unacceptable ``Accept``; otherwise responses carry the negotiated type."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        accept = _header(scope, b"accept")
        chosen = negotiate(accept)
        if chosen is None:
            refusal = errors.not_acceptable(accept or "", tuple(t for t, _ in OFFERED))
            await registry_error_response(refusal)(scope, receive, send)
            return

        async def typed(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = _retyped(message.get("headers", []), chosen)
            await send(message)

        await self.app(scope, receive, typed)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


def _retyped(headers: list[tuple[bytes, bytes]], chosen: str) -> list[tuple[bytes, bytes]]:
    """Our JSON responses in the negotiated type; anything else keeps its own."""
    ours = {offered.encode() for offered, _ in OFFERED}
    retyped = []
    for key, value in headers:
        if key.lower() == b"content-type" and value.split(b";")[0].strip() in ours:
            value = chosen.encode()
        retyped.append((key, value))
    return retyped
