"""The registry's basic auth and roles, in process (no server is started)."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from stream_sentinel.registry_server.app import create_app
from stream_sentinel.registry_server.auth import UNAUTHORIZED, RegistryUser, basic_credentials
from stream_sentinel.registry_server.core import in_memory_core

pytestmark = pytest.mark.unit
SCHEMA = json.dumps({"type": "record", "name": "P", "fields": [{"name": "id", "type": "string"}]})
USERS = {
    "console": RegistryUser(SecretStr("r-pw"), "reader"),
    "detector": RegistryUser(SecretStr("w-pw"), "writer"),
    "admin": RegistryUser(SecretStr("a-pw"), "admin"),
}


@pytest.fixture
def registry() -> TestClient:
    return TestClient(create_app(in_memory_core(), users=USERS))


def _register(registry: TestClient, auth: tuple[str, str] | None) -> tuple[int, dict[str, object]]:
    answer = registry.post("/subjects/p-value/versions", json={"schema": SCHEMA}, auth=auth)
    return answer.status_code, answer.json()


def test_without_credentials_or_with_a_wrong_password_nothing_is_answered(
    registry: TestClient,
) -> None:
    for auth in (None, ("detector", "wrong"), ("nobody", "w-pw")):
        answer = registry.get("/subjects", auth=auth)
        assert answer.status_code == 401
        assert answer.json() == {
            "error_code": 40101,
            "message": UNAUTHORIZED,
        }
        assert answer.headers["WWW-Authenticate"] == 'Basic realm="schema-registry"'
    assert _register(registry, None)[0] == 401
    assert registry.get("/subjects", auth=("admin", "a-pw")).json() == []


def test_a_reader_reads_but_may_not_register(registry: TestClient) -> None:
    assert registry.get("/subjects", auth=("console", "r-pw")).json() == []
    assert _register(registry, ("console", "r-pw")) == (
        403,
        {"error_code": 40301, "message": "User console (role reader) is denied: needs writer"},
    )
    assert registry.get("/subjects", auth=("admin", "a-pw")).json() == []


def test_a_writer_registers_but_only_the_admin_changes_compatibility(registry: TestClient) -> None:
    assert _register(registry, ("detector", "w-pw")) == (200, {"id": 1})
    change = {"compatibility": "NONE"}
    refused = registry.put("/config/p-value", json=change, auth=("detector", "w-pw"))
    assert (refused.status_code, refused.json()["error_code"]) == (403, 40301)
    done = registry.put("/config/p-value", json=change, auth=("admin", "a-pw"))
    assert (done.status_code, done.json()) == (200, {"compatibility": "NONE"})


def test_only_well_formed_basic_headers_count() -> None:
    assert basic_credentials(b"Basic ZGV0ZWN0b3I6dy1wdw==") == ("detector", "w-pw")
    assert basic_credentials(b"Bearer abc") is None
    assert basic_credentials(b"Basic not-base64!") is None
    assert basic_credentials(b"Basic ZGV0ZWN0b3I=") is None  # no colon
    assert basic_credentials(None) is None


def test_a_registry_without_users_asks_for_nothing() -> None:
    open_registry = TestClient(create_app(in_memory_core()))
    assert open_registry.get("/subjects").json() == []


READER, WRITER, ADMIN = ("console", "r-pw"), ("detector", "w-pw"), ("admin", "a-pw")
#: Every protected route as a client may spell it: encoded ``/`` in the subject, a trailing slash.
REGISTER_PATHS = [
    "/subjects/p-value/versions",
    "/subjects/a%2Fb/versions",
    "/subjects/a%2Fb/versions/",
    "/subjects/p-value/versions/",
]
ADMIN_REQUESTS = [
    (method, path)
    for base in ("/config", "/mode", "/config/a%2Fb", "/mode/a%2Fb", "/config/p", "/mode/p")
    for path in (base, base + "/")
    for method in ("PUT", "DELETE")
] + [
    ("DELETE", path)
    for base in ("/subjects/p-value", "/subjects/a%2Fb", "/subjects/a%2Fb/versions/1")
    for path in (base, base + "/")
]


def _body(path: str) -> dict[str, str]:
    if path.startswith("/config"):
        return {"compatibility": "NONE"}
    return {"mode": "READONLY"} if path.startswith("/mode") else {"schema": SCHEMA}


@pytest.mark.parametrize("path", REGISTER_PATHS)
def test_a_reader_may_not_register_however_the_path_is_spelled(
    registry: TestClient, path: str
) -> None:
    answer = registry.post(path, json={"schema": SCHEMA}, auth=READER)
    assert (answer.status_code, answer.json()["error_code"]) == (403, 40301)
    assert registry.get("/subjects", auth=ADMIN).json() == []


@pytest.mark.parametrize(("method", "path"), ADMIN_REQUESTS)
def test_a_writer_may_not_delete_or_change_config_however_the_path_is_spelled(
    registry: TestClient, method: str, path: str
) -> None:
    assert registry.post("/subjects/a%2Fb/versions", json={"schema": SCHEMA}, auth=WRITER).json()
    answer = registry.request(method, path, json=_body(path), auth=WRITER)
    assert (answer.status_code, answer.json()) == (
        403,
        {"error_code": 40301, "message": "User detector (role writer) is denied: needs admin"},
    )
    assert registry.get("/subjects", auth=ADMIN).json() == ["a/b"]
    assert registry.get("/config", auth=ADMIN).json() == {"compatibilityLevel": "BACKWARD"}
    assert registry.get("/mode", auth=ADMIN).json() == {"mode": "READWRITE"}


def test_a_reader_may_look_a_schema_up_and_check_compatibility(registry: TestClient) -> None:
    assert registry.post("/subjects/a%2Fb/versions", json={"schema": SCHEMA}, auth=WRITER).json()
    found = registry.post("/subjects/a%2Fb", json={"schema": SCHEMA}, auth=READER)
    assert (found.status_code, found.json()["id"]) == (200, 1)
    check = registry.post(
        "/compatibility/subjects/a%2Fb/versions/latest", json={"schema": SCHEMA}, auth=READER
    )
    assert (check.status_code, check.json()) == (200, {"is_compatible": True})


def test_only_the_admin_deletes_a_subject(registry: TestClient) -> None:
    assert registry.post("/subjects/a%2Fb/versions", json={"schema": SCHEMA}, auth=WRITER).json()
    assert registry.delete("/subjects/a%2Fb", auth=WRITER).status_code == 403
    done = registry.delete("/subjects/a%2Fb", auth=ADMIN)
    assert (done.status_code, done.json()) == (200, [1])
    assert registry.get("/subjects", auth=ADMIN).json() == []


def test_the_refusal_without_credentials_says_which_credentials_and_where() -> None:
    assert "SENTINEL_REGISTRY_USERNAME" in UNAUTHORIZED
    assert "security/secrets.json" in UNAUTHORIZED
