"""Followers send writes to the leader over HTTP, as Confluent's registry forwards them.

A write reaching an instance that does not lead is sent on, unchanged (method, raw path, query,
body), to the URL the leader announced in ``_schemas``; the leader's answer goes back to the
caller once this instance has read the write from the log (read-your-writes). While the
leadership moves (the leader died, a successor is fencing and catching up) the forward is
retried until ``wait_s`` passes; then the caller gets Confluent's 50003 or 50004.
"""

from __future__ import annotations

import asyncio
import re
import time
from typing import Protocol

import httpx
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from stream_sentinel.errors import RegistryError
from stream_sentinel.registry_server import errors
from stream_sentinel.registry_server.follower import Follower
from stream_sentinel.registry_server.http_support import registry_error_response

#: Marks a forwarded request, so an instance that is no longer the leader does not send it on.
FORWARDED = "x-schema-registry-forwarded"
_REGISTER = re.compile(r"^/subjects/[^/]+/versions/?$")
_PASSED_ON = ("content-type", "accept", "authorization")
RETRY_S = 0.25


def is_write(method: str, path: str) -> bool:
    """Whether a request changes the registry (lookups and compatibility checks do not).

    >>> is_write("POST", "/subjects/a%2Fb/versions"), is_write("POST", "/subjects/a%2Fb")
    (True, False)
    >>> is_write("DELETE", "/subjects/a"), is_write("PUT", "/mode"), is_write("GET", "/mode")
    (True, True, False)
    """
    return method in ("PUT", "DELETE") or (method == "POST" and bool(_REGISTER.match(path)))


class Leader(Protocol):
    def is_leader(self) -> bool: ...

    def leader_url(self) -> str | None: ...


class LeaderForwarding:
    """ASGI middleware: writes go to the leader unless this instance is it."""

    def __init__(
        self, app: ASGIApp, leadership: Leader, follower: Follower, wait_s: float = 30.0
    ) -> None:
        self.app = app
        self._leadership = leadership
        self._follower = follower
        self._wait_s = wait_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self._forwards(scope):
            await self.app(scope, receive, send)
            return
        body = await _body(receive)
        try:
            response = await self._forward(scope, body)
            if response is None:  # this instance took over meanwhile: it answers itself
                await self.app(scope, _replay(body), send)
                return
            await run_in_threadpool(self._follower.sync_to_end)
        except RegistryError as exc:
            await registry_error_response(exc)(scope, receive, send)
            return
        headers = [(k.encode(), v.encode()) for k, v in response.headers.items() if _kept(k)]
        headers.append((b"content-length", str(len(response.content)).encode()))
        start = {"type": "http.response.start", "status": response.status_code, "headers": headers}
        await send(start)
        await send({"type": "http.response.body", "body": response.content})

    def _forwards(self, scope: Scope) -> bool:
        if scope["type"] != "http" or self._leadership.is_leader():
            return False
        path = bytes(scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
        already = any(key.lower() == FORWARDED.encode() for key, _ in scope.get("headers", []))
        return is_write(scope["method"], path) and not already

    async def _forward(self, scope: Scope, body: bytes) -> httpx.Response | None:
        """The leader's answer; None when this instance became the leader meanwhile."""
        deadline = time.monotonic() + self._wait_s
        failure: RegistryError = errors.unknown_leader("no leader has announced itself yet")
        async with httpx.AsyncClient(timeout=self._wait_s) as client:
            while time.monotonic() < deadline:
                url = self._leadership.leader_url()
                if url is not None:
                    try:
                        response = await client.send(_request(client, scope, url, body))
                    except httpx.HTTPError as exc:
                        failure = errors.forwarding_failed(f"{url}: {exc}")
                    else:
                        if not _leader_moved(response):
                            return response
                        failure = errors.unknown_leader(f"{url} no longer leads")
                if self._leadership.is_leader():
                    return None
                await asyncio.sleep(RETRY_S)
        raise failure


def _request(client: httpx.AsyncClient, scope: Scope, url: str, body: bytes) -> httpx.Request:
    raw_path = bytes(scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
    query = bytes(scope.get("query_string", b"")).decode("latin-1")
    target = url.rstrip("/") + raw_path + (f"?{query}" if query else "")
    headers = {
        key.decode("latin-1"): value.decode("latin-1")
        for key, value in scope.get("headers", [])
        if key.decode("latin-1").lower() in _PASSED_ON
    }
    headers[FORWARDED] = "1"
    return client.build_request(scope["method"], httpx.URL(target), content=body, headers=headers)


def _leader_moved(response: httpx.Response) -> bool:
    if response.status_code != 500:
        return False
    try:
        return response.json().get("error_code") == errors.UNKNOWN_LEADER
    except ValueError:
        return False


def _kept(header: str) -> bool:
    return header.lower() not in (
        "content-length",
        "transfer-encoding",
        "connection",
        "server",
        "date",
    )


def _replay(body: bytes) -> Receive:
    async def receive() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


async def _body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message: Message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)
