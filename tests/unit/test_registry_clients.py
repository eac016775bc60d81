"""The registry clients (HTTP and in-process) behave alike and are found from settings."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient

from stream_sentinel.clients.registry import connect_registry
from stream_sentinel.config import RegistrySettings
from stream_sentinel.errors import ConfigError, RegistryError, ServiceUnavailable
from stream_sentinel.registry.client import (
    CompatibilityVerdict,
    RegisteredSchema,
    SchemaRegistryClient,
)
from stream_sentinel.registry.http import HttpRegistryClient
from stream_sentinel.registry_server.app import create_app
from stream_sentinel.registry_server.core import RegistryCore
from stream_sentinel.registry_server.local_client import LocalRegistryClient
from stream_sentinel.registry_server.store import MemoryLog

V1 = '{"type":"record","name":"P","fields":[{"name":"id","type":"string"}]}'
V2 = (
    '{"type":"record","name":"P","fields":[{"name":"id","type":"string"},'
    '{"name":"n","type":["null","int"],"default":null}]}'
)
BREAKING = (
    '{"type":"record","name":"P","fields":[{"name":"id","type":"string"},'
    '{"name":"r","type":"int"}]}'
)


def forwarding_transport(app_client: TestClient, seen: list[httpx.Request]) -> httpx.MockTransport:
    """An httpx transport that hands each request to the in-process app."""

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        response = app_client.request(
            request.method,
            request.url.path,
            params=request.url.params,
            content=request.content,
            headers=dict(request.headers),
        )
        return httpx.Response(
            response.status_code, content=response.content, headers=response.headers
        )

    return httpx.MockTransport(handle)


@pytest.fixture(params=["http", "local"])
def client(request: pytest.FixtureRequest) -> Iterator[SchemaRegistryClient]:
    core = RegistryCore(MemoryLog())
    if request.param == "local":
        yield LocalRegistryClient(core)
        return
    transport = forwarding_transport(TestClient(create_app(core)), [])
    http = HttpRegistryClient(RegistrySettings(url="http://registry.test:8081"), transport)
    yield http
    http.close()


def test_register_lookup_and_versions(client: SchemaRegistryClient) -> None:
    assert client.register("p-value", V1) == 1
    assert client.register("p-value", V1) == 1
    assert client.register("p-value", V2) == 2
    assert client.lookup("p-value", V1) == RegisteredSchema("p-value", 1, 1, V1)
    assert client.get_version("p-value") == RegisteredSchema("p-value", 2, 2, V2)
    assert client.get_version("p-value", 1).schema == V1
    assert client.schema_by_id(2) == V2
    assert (client.subjects(), client.versions("p-value")) == (["p-value"], [1, 2])


def test_compatibility_and_config(client: SchemaRegistryClient) -> None:
    client.register("p-value", V1)
    assert client.check_compatibility("p-value", V2) == CompatibilityVerdict(True, ())
    verdict = client.check_compatibility("p-value", BREAKING, version=1)
    assert (verdict.is_compatible, verdict.messages[-1]) == (False, "{compatibility: 'BACKWARD'}")
    assert client.get_compatibility() == "BACKWARD"
    assert client.set_compatibility("forward", "p-value") == "FORWARD"
    assert (client.get_compatibility("p-value"), client.get_compatibility("q-value")) == (
        "FORWARD",
        "BACKWARD",
    )
    assert client.check_compatibility("p-value", BREAKING).is_compatible is True


def test_errors_carry_confluents_codes(client: SchemaRegistryClient) -> None:
    with pytest.raises(RegistryError) as missing:
        client.versions("ghost")
    assert (missing.value.error_code, missing.value.http_status, str(missing.value)) == (
        40401,
        404,
        "Subject 'ghost' not found.",
    )
    client.register("p-value", V1)
    with pytest.raises(RegistryError) as conflict:
        client.register("p-value", BREAKING)
    assert (conflict.value.error_code, conflict.value.http_status) == (409, 409)
    with pytest.raises(RegistryError) as unknown:
        client.schema_by_id(99)
    assert unknown.value.error_code == 40403


def test_delete_subject_soft_then_hard(client: SchemaRegistryClient) -> None:
    client.register("p-value", V1)
    assert client.delete_subject("p-value") == [1]
    assert client.subjects() == []
    assert client.delete_subject("p-value", permanent=True) == [1]


def test_http_client_sends_basic_auth_and_the_media_type() -> None:
    seen: list[httpx.Request] = []
    app_client = TestClient(create_app(RegistryCore(MemoryLog())))
    settings = RegistrySettings(url="http://registry.test:8081/", username="svc", password="s3cret")  # type: ignore[arg-type]
    http = HttpRegistryClient(settings, forwarding_transport(app_client, seen))
    http.register("p-value", V1)
    request = seen[0]
    assert request.headers["authorization"] == "Basic " + base64.b64encode(b"svc:s3cret").decode()
    assert request.headers["content-type"] == "application/vnd.schemaregistry.v1+json"
    assert json.loads(request.content) == {"schema": V1}
    assert str(request.url) == "http://registry.test:8081/subjects/p-value/versions"


def test_http_client_caches_schemas_by_id_and_registrations() -> None:
    seen: list[httpx.Request] = []
    app_client = TestClient(create_app(RegistryCore(MemoryLog())))
    http = HttpRegistryClient(
        RegistrySettings(url="http://r.test"), forwarding_transport(app_client, seen)
    )
    for _ in range(3):
        http.register("p-value", V1)
        http.schema_by_id(1)
    assert [(r.method, r.url.path) for r in seen] == [
        ("POST", "/subjects/p-value/versions"),
        ("GET", "/schemas/ids/1"),
    ]


def test_subjects_are_url_encoded() -> None:
    seen: list[httpx.Request] = []
    app_client = TestClient(create_app(RegistryCore(MemoryLog())))
    http = HttpRegistryClient(
        RegistrySettings(url="http://r.test"), forwarding_transport(app_client, seen)
    )
    http.register("team a:payments", V1)
    assert seen[0].url.raw_path == b"/subjects/team%20a%3Apayments/versions"
    assert http.subjects() == ["team a:payments"]


def test_an_unreachable_registry_is_service_unavailable() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("Connection refused", request=request)

    http = HttpRegistryClient(
        RegistrySettings(url="http://127.0.0.1:9"), httpx.MockTransport(refuse)
    )
    with pytest.raises(
        ServiceUnavailable,
        match=r"schema registry at http://127.0.0.1:9 is "
        r"unreachable \(Connection refused\); is it running\?",
    ):
        http.subjects()


def test_a_non_json_error_keeps_the_http_status() -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(502, text="Bad gateway"))
    http = HttpRegistryClient(RegistrySettings(url="http://r.test"), transport)
    with pytest.raises(RegistryError) as error:
        http.subjects()
    assert (error.value.error_code, error.value.http_status, str(error.value)) == (
        502,
        502,
        "registry answered HTTP 502: Bad gateway",
    )


def test_connect_registry_picks_the_client_from_the_url() -> None:
    http = connect_registry(RegistrySettings(url="http://127.0.0.1:8081"))
    assert isinstance(http, HttpRegistryClient)
    http.close()
    first = connect_registry(RegistrySettings(url="memory://unit-shared"))
    second = connect_registry(RegistrySettings(url="memory://unit-shared"))
    assert isinstance(first, LocalRegistryClient) and isinstance(second, LocalRegistryClient)
    assert first.core is second.core
    other = connect_registry(RegistrySettings(url="memory://unit-other"))
    assert isinstance(other, LocalRegistryClient) and other.core is not first.core
    with pytest.raises(ConfigError, match="unsupported schema registry URL 'ftp://x'"):
        connect_registry(RegistrySettings(url="ftp://x"))
