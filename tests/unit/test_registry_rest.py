"""The REST API in process (FastAPI TestClient): Confluent's endpoints, shapes and error codes."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from stream_sentinel.registry_server.app import create_app
from stream_sentinel.registry_server.core import RegistryCore
from stream_sentinel.registry_server.store import MemoryLog

MEDIA = "application/vnd.schemaregistry.v1+json"
V1 = json.dumps(
    {"type": "record", "name": "Payment", "fields": [{"name": "id", "type": "string"}]},
    separators=(",", ":"),
)
V2 = json.dumps(
    {
        "type": "record",
        "name": "Payment",
        "fields": [
            {"name": "id", "type": "string"},
            {"name": "note", "type": ["null", "string"], "default": None},
        ],
    },
    separators=(",", ":"),
)
BREAKING = json.dumps(
    {
        "type": "record",
        "name": "Payment",
        "fields": [{"name": "id", "type": "string"}, {"name": "required_new", "type": "int"}],
    }
)


@pytest.fixture
def log() -> MemoryLog:
    return MemoryLog()


@pytest.fixture
def client(log: MemoryLog) -> TestClient:
    return TestClient(create_app(RegistryCore(log)))


def post(client: TestClient, path: str, body: Any) -> Any:
    return client.post(path, content=json.dumps(body), headers={"Content-Type": MEDIA})


def answer(response: Any) -> tuple[int, Any]:
    return response.status_code, response.json()


def test_root_and_schema_types(client: TestClient) -> None:
    assert answer(client.get("/")) == (200, {})
    assert answer(client.get("/schemas/types")) == (200, ["AVRO"])


def test_register_and_read_back_every_way(client: TestClient) -> None:
    response = post(client, "/subjects/pay-value/versions", {"schema": V1})
    assert answer(response) == (200, {"id": 1})
    assert response.headers["content-type"] == MEDIA
    assert answer(post(client, "/subjects/pay-value/versions", {"schema": V2})) == (200, {"id": 2})
    assert answer(client.get("/subjects")) == (200, ["pay-value"])
    assert answer(client.get("/subjects/pay-value/versions")) == (200, [1, 2])
    version_one = {"subject": "pay-value", "version": 1, "id": 1, "schema": V1}
    assert answer(client.get("/subjects/pay-value/versions/1")) == (200, version_one)
    assert answer(client.get("/subjects/pay-value/versions/latest"))[1]["version"] == 2
    assert answer(client.get("/subjects/pay-value/versions/-1"))[1]["id"] == 2
    assert answer(client.get("/subjects/pay-value/versions/1/schema")) == (200, json.loads(V1))
    assert answer(client.get("/schemas/ids/1")) == (200, {"schema": V1})
    assert answer(client.get("/schemas/ids/2/schema")) == (200, json.loads(V2))
    assert answer(client.get("/schemas/ids/1/versions")) == (
        200,
        [{"subject": "pay-value", "version": 1}],
    )
    assert answer(client.get("/schemas/ids/1/subjects")) == (200, ["pay-value"])
    assert answer(post(client, "/subjects/pay-value", {"schema": V1})) == (200, version_one)


def test_confluent_style_query_flags_are_accepted(client: TestClient) -> None:
    # confluent-kafka's client sends Python booleans: ?normalize=False&deleted=False
    response = client.post(
        "/subjects/pay-value/versions?normalize=False",
        content=json.dumps({"schema": V1, "schemaType": "AVRO", "references": []}),
        headers={"Content-Type": MEDIA},
    )
    assert answer(response) == (200, {"id": 1})
    lookup = client.post(
        "/subjects/pay-value?normalize=False&deleted=False", content=json.dumps({"schema": V1})
    )
    assert answer(lookup)[1]["version"] == 1


def test_same_schema_in_two_subjects_shares_the_id(client: TestClient) -> None:
    assert answer(post(client, "/subjects/a-value/versions", {"schema": V1})) == (200, {"id": 1})
    assert answer(post(client, "/subjects/b-value/versions", {"schema": V1})) == (200, {"id": 1})
    assert answer(client.get("/schemas/ids/1/subjects")) == (200, ["a-value", "b-value"])


def test_incompatible_schema_is_409(client: TestClient) -> None:
    post(client, "/subjects/pay-value/versions", {"schema": V1})
    status, body = answer(post(client, "/subjects/pay-value/versions", {"schema": BREAKING}))
    assert (status, body["error_code"]) == (409, 409)
    assert body["message"].startswith(
        'Schema being registered is incompatible with an earlier schema for subject "pay-value"'
    )


def test_compatibility_endpoints_with_and_without_verbose(client: TestClient) -> None:
    post(client, "/subjects/pay-value/versions", {"schema": V1})
    path = "/compatibility/subjects/pay-value/versions"
    assert answer(post(client, f"{path}/latest", {"schema": V2})) == (200, {"is_compatible": True})
    assert answer(post(client, f"{path}/1?verbose=true", {"schema": V2})) == (
        200,
        {"is_compatible": True, "messages": []},
    )
    assert answer(post(client, f"{path}/1", {"schema": BREAKING})) == (
        200,
        {"is_compatible": False},
    )
    status, body = answer(post(client, f"{path}?verbose=true", {"schema": BREAKING}))
    assert (status, body["is_compatible"], body["messages"][1:]) == (
        200,
        False,
        ["{oldSchemaVersion: 1}", f"{{oldSchema: '{V1}'}}", "{compatibility: 'BACKWARD'}"],
    )
    assert answer(post(client, "/compatibility/subjects/new-value/versions", {"schema": V1})) == (
        200,
        {"is_compatible": True},
    )


def test_config_global_and_per_subject(client: TestClient) -> None:
    assert answer(client.get("/config")) == (200, {"compatibilityLevel": "BACKWARD"})
    assert answer(client.put("/config", json={"compatibility": "full"})) == (
        200,
        {"compatibility": "FULL"},
    )
    assert answer(client.get("/config/pay-value")) == (
        404,
        {
            "error_code": 40408,
            "message": "Subject 'pay-value' does not have subject-level compatibility configured",
        },
    )
    assert answer(client.get("/config/pay-value?defaultToGlobal=true")) == (
        200,
        {"compatibilityLevel": "FULL"},
    )
    assert answer(client.put("/config/pay-value", json={"compatibility": "NONE"})) == (
        200,
        {"compatibility": "NONE"},
    )
    assert answer(client.get("/config/pay-value")) == (200, {"compatibilityLevel": "NONE"})
    assert answer(client.delete("/config/pay-value")) == (200, {"compatibilityLevel": "NONE"})
    assert answer(client.delete("/config")) == (200, {"compatibilityLevel": "FULL"})
    assert answer(client.get("/config")) == (200, {"compatibilityLevel": "BACKWARD"})
    assert answer(client.put("/config", json={"compatibility": "LOOSE"}))[1]["error_code"] == 42203


def test_mode_get_and_put(client: TestClient) -> None:
    assert answer(client.get("/mode")) == (200, {"mode": "READWRITE"})
    assert answer(client.put("/mode", json={"mode": "READONLY"})) == (200, {"mode": "READONLY"})
    status, body = answer(post(client, "/subjects/pay-value/versions", {"schema": V1}))
    assert (status, body) == (
        422,
        {"error_code": 42205, "message": "Subject pay-value is in read-only mode"},
    )
    assert answer(client.put("/mode", json={"mode": "NAP"}))[1]["error_code"] == 42204


def test_soft_then_hard_delete(client: TestClient) -> None:
    post(client, "/subjects/pay-value/versions", {"schema": V1})
    post(client, "/subjects/pay-value/versions", {"schema": V2})
    assert answer(client.delete("/subjects/pay-value/versions/1")) == (200, 1)
    assert answer(client.get("/subjects/pay-value/versions")) == (200, [2])
    assert answer(client.get("/subjects/pay-value/versions?deleted=true")) == (200, [1, 2])
    assert answer(client.delete("/subjects/pay-value?permanent=true"))[1]["error_code"] == 40405
    assert answer(client.delete("/subjects/pay-value")) == (200, [2])
    assert answer(client.get("/subjects")) == (200, [])
    assert answer(client.get("/subjects?deleted=true")) == (200, ["pay-value"])
    assert answer(client.delete("/subjects/pay-value"))[1]["error_code"] == 40404
    assert answer(client.delete("/subjects/pay-value?permanent=true")) == (200, [1, 2])
    assert answer(client.get("/schemas/ids/1"))[0] == 404
    assert answer(client.get("/subjects?deleted=true")) == (200, [])


def _state(client: TestClient, log: MemoryLog) -> Any:
    return (
        client.get("/subjects?deleted=true").json(),
        client.get("/subjects/pay-value/versions").json(),
        list(log.records),
    )


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "error"),
    [
        (
            "POST",
            "/subjects/pay-value/versions",
            b"{not json",
            400,
            {
                "error_code": 400,
                "message": "Malformed JSON in the request body: Expecting property name "
                "enclosed in double quotes: line 1 column 2 (char 1)",
            },
        ),
        (
            "POST",
            "/subjects/pay-value/versions",
            b"[1, 2]",
            422,
            {"error_code": 422, "message": "The request body must be a JSON object"},
        ),
        (
            "POST",
            "/subjects/pay-value/versions",
            b'{"schema": "{\\"type\\": \\"nope\\"}"}',
            422,
            {"error_code": 42201, "message": "Invalid schema: Undefined type: nope"},
        ),
        (
            "POST",
            "/subjects/pay-value/versions",
            b'{"schema": 5}',
            422,
            {
                "error_code": 42201,
                "message": "Invalid schema: the 'schema' field must be a non-empty string",
            },
        ),
        (
            "POST",
            "/subjects/pay-value/versions",
            b"{}",
            422,
            {"error_code": 42201, "message": "Empty schema"},
        ),
        (
            "POST",
            "/subjects/pay-value/versions",
            b'{"schema": "\\"int\\"", "id": "x"}',
            422,
            {"error_code": 422, "message": "'id' must be an integer"},
        ),
        (
            "GET",
            "/subjects/ghost/versions",
            None,
            404,
            {"error_code": 40401, "message": "Subject 'ghost' not found."},
        ),
        (
            "GET",
            "/subjects/ghost/versions/1",
            None,
            404,
            {"error_code": 40401, "message": "Subject 'ghost' not found."},
        ),
        (
            "DELETE",
            "/subjects/ghost",
            None,
            404,
            {"error_code": 40401, "message": "Subject 'ghost' not found."},
        ),
        (
            "GET",
            "/subjects/pay-value/versions/0",
            None,
            422,
            {
                "error_code": 42202,
                "message": "The specified version '0' is not a valid version id. "
                'Allowed values are between [1, 2^31-1] and the string "latest"',
            },
        ),
        (
            "GET",
            "/subjects/pay-value/versions/-5",
            None,
            422,
            {
                "error_code": 42202,
                "message": "The specified version '-5' is not a valid version id. "
                'Allowed values are between [1, 2^31-1] and the string "latest"',
            },
        ),
        (
            "DELETE",
            "/subjects/pay-value/versions/0",
            None,
            422,
            {
                "error_code": 42202,
                "message": "The specified version '0' is not a valid version id. "
                'Allowed values are between [1, 2^31-1] and the string "latest"',
            },
        ),
        (
            "GET",
            "/subjects/pay-value/versions/9",
            None,
            404,
            {"error_code": 40402, "message": "Version 9 not found."},
        ),
        (
            "GET",
            "/schemas/ids/77",
            None,
            404,
            {"error_code": 40403, "message": "Schema 77 not found"},
        ),
        (
            "GET",
            "/schemas/ids/abc",
            None,
            404,
            {"error_code": 404, "message": "HTTP 404 Not Found"},
        ),
        (
            "POST",
            "/subjects/pay-value",
            b'{"schema": "\\"int\\""}',
            404,
            {"error_code": 40403, "message": "Schema not found"},
        ),
        (
            "GET",
            "/no/such/endpoint",
            None,
            404,
            {"error_code": 404, "message": "HTTP 404 Not Found"},
        ),
        (
            "PATCH",
            "/subjects",
            None,
            405,
            {"error_code": 405, "message": "HTTP 405 Method Not Allowed"},
        ),
    ],
)
def test_bad_requests_get_the_right_error_and_never_touch_the_store(
    client: TestClient,
    log: MemoryLog,
    method: str,
    path: str,
    body: bytes | None,
    status: int,
    error: dict[str, Any],
) -> None:
    post(client, "/subjects/pay-value/versions", {"schema": V1})
    before = _state(client, log)
    response = client.request(method, path, content=body, headers={"Content-Type": MEDIA})
    assert answer(response) == (status, error)
    assert response.headers["content-type"] == MEDIA
    assert _state(client, log) == before


def test_a_5_mb_body_is_refused_cleanly(client: TestClient, log: MemoryLog) -> None:
    post(client, "/subjects/pay-value/versions", {"schema": V1})
    before = _state(client, log)
    huge = json.dumps(
        {
            "schema": json.dumps(
                {"type": "enum", "name": "E", "symbols": ["S" + str(i) for i in range(700_000)]}
            )
        }
    )
    assert len(huge) > 5 * 1024 * 1024
    response = client.post(
        "/subjects/pay-value/versions", content=huge.encode(), headers={"Content-Type": MEDIA}
    )
    assert answer(response) == (
        413,
        {
            "error_code": 413,
            "message": f"Request body of {len(huge)} bytes exceeds the limit of 921600 bytes "
            "(SENTINEL_REGISTRY_MAX_REQUEST_BYTES)",
        },
    )
    assert _state(client, log) == before
    assert answer(post(client, "/subjects/pay-value/versions", {"schema": V2})) == (200, {"id": 2})


def test_a_streamed_body_without_length_is_limited_too(log: MemoryLog) -> None:
    client = TestClient(create_app(RegistryCore(log), max_request_bytes=1000))

    def chunks() -> Any:
        for _ in range(5):
            yield b" " * 400

    response = client.post(
        "/subjects/pay-value/versions", content=chunks(), headers={"Content-Type": MEDIA}
    )
    assert answer(response) == (
        413,
        {
            "error_code": 413,
            # the test transport hands the chunks over as one body message
            "message": "Request body of 2000 bytes exceeds the limit of 1000 bytes "
            "(SENTINEL_REGISTRY_MAX_REQUEST_BYTES)",
        },
    )
    assert log.records == []


def test_listings_page_and_filter_deleted(client: TestClient) -> None:
    for subject in ("a-value", "b-value", "c-value"):
        post(client, f"/subjects/{subject}/versions", {"schema": V1})
    post(client, "/subjects/a-value/versions", {"schema": V2})
    client.delete("/subjects/b-value")
    client.delete("/subjects/a-value/versions/1")
    assert answer(client.get("/subjects?offset=0&limit=-1")) == (200, ["a-value", "c-value"])
    assert answer(client.get("/subjects?deleted=true&offset=1&limit=1")) == (200, ["b-value"])
    assert answer(client.get("/subjects?deleted_only=true")) == (200, ["b-value"])
    assert answer(client.get("/subjects?subjectPrefix=c")) == (200, ["c-value"])
    assert answer(client.get("/subjects/a-value/versions?deleted_only=true")) == (200, [1])
    assert answer(client.get("/subjects/b-value/versions?deleted_only=true")) == (200, [1])
    assert answer(client.get("/schemas/ids/1/versions?deleted=true&limit=2")) == (
        200,
        [{"subject": "a-value", "version": 1}, {"subject": "b-value", "version": 1}],
    )
    assert answer(client.get("/subjects?limit=x"))[1] == {
        "error_code": 422,
        "message": "query parameter 'limit' must be an integer",
    }


def test_the_shutdown_hook_runs_when_the_app_stops(log: MemoryLog) -> None:
    stopped: list[bool] = []
    with TestClient(create_app(RegistryCore(log), on_shutdown=lambda: stopped.append(True))) as c:
        assert c.get("/").status_code == 200
        assert stopped == []
    assert stopped == [True]
