"""The console on the embedded backends with a manual clock, seeded, behind a TestClient."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from fastapi.testclient import TestClient

from stream_sentinel.clients.backends import EmbeddedClients
from stream_sentinel.clock import ManualClock
from stream_sentinel.config import Settings, load_settings
from stream_sentinel.console.app import create_app
from stream_sentinel.console.settings import ConsoleSettings, load_console_settings
from stream_sentinel.console.users import UserBook
from stream_sentinel.transport.topics import Topics
from stream_sentinel.wire.serde import Serde
from tests.console_support import PASSWORD, T0, Seeded, csrf_of, seed

NOW = T0 + 3_600_000


def drain(done: Callable[[], bool]) -> None:
    for _ in range(50):  # in process every poll makes progress: a handful always suffices
        if done():
            return
    raise AssertionError("the embedded alert processor did not handle the seeded alerts")


@dataclass
class ConsoleRig:
    clients: EmbeddedClients
    clock: ManualClock
    settings: Settings
    seeded: Seeded

    @property
    def serde(self) -> Serde:
        return Serde(self.clients.registry())

    def console_settings(self, **values: object) -> ConsoleSettings:
        return load_console_settings({"SENTINEL_CONSOLE_SAMPLE_INTERVAL_S": "0"}, **values)

    @contextmanager
    def client(self, users: UserBook | None = None, **values: object) -> Iterator[TestClient]:
        app = create_app(
            self.clients,
            self.settings,
            self.console_settings(**values),
            users or UserBook(),
            self.clock,
        )
        with TestClient(app, base_url="http://127.0.0.1") as client:
            yield client


def make_console_rig() -> ConsoleRig:
    clock = ManualClock(NOW)
    clients = EmbeddedClients(clock)
    clients.admin().create_topics(Topics().specs())
    settings = load_settings("test", environ={})
    seeded = seed(settings, clients.backends(), Serde(clients.registry()), clock, drain)
    return ConsoleRig(clients, clock, settings, seeded)


def log_in(client: TestClient, name: str, password: str = PASSWORD) -> None:
    token = csrf_of(client.get("/login").text)
    reply = client.post(
        "/login",
        data={"username": name, "password": password, "csrf_token": token, "next": "/"},
        follow_redirects=False,
    )
    assert reply.status_code == 303, reply.text
