"""The console's browser tests' stage: a real stack, a seeded pipeline, the console served by
`stream-sentinel console` in a child process, and Debian's Chromium driven by Playwright."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from stream_sentinel.clients.backends import RealClients
from stream_sentinel.clock import SYSTEM_CLOCK
from stream_sentinel.config import Settings
from stream_sentinel.console.users import Role, UserBook
from stream_sentinel.infra.process import free_ports
from stream_sentinel.transport.topics import Topics
from stream_sentinel.wire.serde import Serde
from tests.console_support import FAST_COST, PASSWORD, Seeded, seed
from tests.integration.stacks import cli_env

SENTINEL = [sys.executable, "-m", "stream_sentinel"]
CHROMIUM_NAMES = ("chromium", "chromium-browser")


def chromium_path() -> str:
    """Debian's Chromium (`make test` installs it); the tests never download a browser."""
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    pytest.fail("the console's browser tests need Chromium: `make setup-chromium`", pytrace=False)


def wait_for(condition: Callable[[], bool], limit_s: float, what: str) -> None:
    """Poll ``condition`` until it holds; fail naming ``what`` after ``limit_s`` (a hang guard)."""
    deadline = time.monotonic() + limit_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def seed_stack(settings: Settings) -> Seeded:
    clients = RealClients(settings)
    clients.admin().create_topics(Topics.from_settings(settings).specs())
    backends = clients.backends()
    registry = clients.registry()
    try:
        return seed(
            settings,
            backends,
            Serde.from_settings(settings, registry),
            SYSTEM_CLOCK,
            lambda done: wait_for(done, 90, "the alert processor to handle the seeded alerts"),
        )
    finally:
        backends.close()
        registry.close()


def users_file(directory: Path) -> Path:
    book = UserBook()
    book.add("vera", Role.VIEWER, PASSWORD, cost=FAST_COST)
    book.add("ana", Role.ANALYST, PASSWORD, cost=FAST_COST)
    path = directory / "console-users.json"
    book.save(path)
    return path


@contextmanager
def served_console(settings: Settings, users: Path, log: Path) -> Iterator[str]:
    """`stream-sentinel console` on a free loopback port; yields its base URL."""
    [port] = free_ports(1)
    env = {
        **cli_env(settings),
        "SENTINEL_CONSOLE_USERS_FILE": str(users),
        "SENTINEL_CONSOLE_SAMPLE_INTERVAL_S": "1",
        "PYTHONPATH": os.pathsep.join(sys.path),
    }
    with log.open("w") as out:
        process = subprocess.Popen(
            [*SENTINEL, "console", "--port", str(port)],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"the console exited: {log.read_text()}")
        try:
            return httpx.get(f"{url}/login", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_for(answers, 60, "the console to answer")
        yield url
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
