"""A follower's forwarding and waiting, in process: the 50002/50003/50004 answers (issue 15,
items 4 and 7). No server is started: the leader's address refuses connections."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from stream_sentinel.errors import RegistryError
from stream_sentinel.registry_server.app import create_app
from stream_sentinel.registry_server.core import RegistryCore
from stream_sentinel.registry_server.follower import InlineFollower
from stream_sentinel.registry_server.forwarding import LeaderForwarding
from stream_sentinel.registry_server.replica import Replica
from stream_sentinel.registry_server.store import LogEntry, MemoryLog

MEDIA = "application/vnd.schemaregistry.v1+json"


class Follower:
    """Never the leader; the leader announced itself at an address nobody listens on."""

    def __init__(self, url: str | None) -> None:
        self.url = url

    def is_leader(self) -> bool:
        return False

    def is_writable(self) -> bool:
        return False

    def require_writable(self) -> None:
        raise AssertionError("a follower never writes itself")

    def leader_url(self) -> str | None:
        return self.url

    def lost(self, reason: str, fenced: bool) -> None:
        return None

    def close(self) -> None:
        return None


def follower_app(url: str | None) -> TestClient:
    log = MemoryLog()
    core = RegistryCore(log, leadership=Follower(url))
    app = create_app(core)
    app.add_middleware(
        LeaderForwarding, leadership=core.leadership, follower=core.follower, wait_s=0.5
    )
    return TestClient(app)


def register(client: TestClient) -> tuple[int, dict[str, object]]:
    response = client.post(
        "/subjects/pay-value/versions",
        content=json.dumps({"schema": '"string"'}),
        headers={"Content-Type": MEDIA},
    )
    return response.status_code, response.json()


def test_a_write_the_leader_cannot_be_reached_for_is_50003() -> None:
    status, body = register(follower_app("http://127.0.0.1:9"))
    assert (status, body["error_code"]) == (500, 50003)
    assert str(body["message"]).startswith(
        "Error while forwarding the request to the leader: http://127.0.0.1:9"
    )


def test_a_write_while_no_leader_has_announced_itself_is_50004() -> None:
    assert register(follower_app(None)) == (
        500,
        {"error_code": 50004, "message": "Unknown leader: no leader has announced itself yet"},
    )


def test_reads_are_served_by_the_follower_itself() -> None:
    client = follower_app("http://127.0.0.1:9")
    assert client.get("/subjects").json() == []
    lookup = client.post("/subjects/pay-value", content=json.dumps({"schema": '"int"'}))
    assert lookup.json()["error_code"] == 40401


class StuckLog(MemoryLog):
    """A log that says it holds a record it never delivers."""

    def end_offset(self, timeout_s: float | None = None) -> int:
        return 1

    def read_from(self, position: int, timeout_s: float = 0.0) -> tuple[list[LogEntry], int]:
        return [], position


def test_a_replica_that_cannot_catch_up_answers_50002() -> None:
    follower = InlineFollower(StuckLog(), Replica())
    with pytest.raises(RegistryError) as caught:
        follower.sync_to_end()
    assert (caught.value.error_code, caught.value.http_status) == (50002, 500)
    assert str(caught.value) == (
        "Operation timed out: the registry log stopped at offset 0, before 1"
    )
