"""Serving the console from inside another run (the demo): uvicorn on a thread, stopped on exit.

>>> is_free = port_is_free("127.0.0.1", 0)
>>> is_free
True
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from fastapi import FastAPI

from stream_sentinel.errors import ServiceUnavailable

START_TIMEOUT_S = 10.0


def port_is_free(host: str, port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


@contextmanager
def serving(app: FastAPI, host: str, port: int) -> Iterator[str]:
    """Serve ``app`` on a daemon thread while the block runs; yields the console's URL."""
    if port and not port_is_free(host, port):
        raise ServiceUnavailable(
            f"port {port} on {host} is taken: choose another with --console-port (0: any free)"
        )
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="console", daemon=True)
    thread.start()
    started = threading.Event()
    for _ in range(int(START_TIMEOUT_S / 0.05)):
        if server.started:
            started.set()
            break
        if not thread.is_alive():
            break
        started.wait(0.05)
    if not server.started:
        raise ServiceUnavailable(f"the console did not start on {host}:{port}")
    bound = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://{host}:{bound}/"
    finally:
        server.should_exit = True
        thread.join(START_TIMEOUT_S)
