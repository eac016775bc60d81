"""Subjects are opaque strings in the URL: routing on the path as sent, not as decoded.

ASGI servers decode ``%2F`` to ``/`` before routing, so ``/subjects/a%2Fb/versions`` would be
routed as four segments and answer 404. Routing on the raw path keeps each encoded segment one
path parameter; :func:`segment` decodes it. A subject may then hold ``/``, ``%``, spaces,
``..`` or any Unicode, and is never read as a path.

>>> segment("subj%2Fect_x"), segment("%2E%2E"), segment("caf%C3%A9%20au%20lait")
('subj/ect_x', '..', 'café au lait')
"""

from __future__ import annotations

from urllib.parse import unquote

from starlette.types import ASGIApp, Receive, Scope, Send


def segment(raw: str) -> str:
    """One path parameter as the client meant it."""
    return unquote(raw)


class RawPathRouting:
    """Routes on ``raw_path`` (still percent-encoded) instead of the decoded ``path``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        raw = scope.get("raw_path") if scope["type"] == "http" else None
        if raw:
            scope = {**scope, "path": bytes(raw).decode("latin-1")}
        await self.app(scope, receive, send)
