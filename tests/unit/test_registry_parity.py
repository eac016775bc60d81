"""Confluent parity of the REST API in process: encoded subjects, endpoints, errors, canonical
lookup and content negotiation (issue 15, items 1, 3, 4, 5, 6 and 9)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from stream_sentinel.registry_server.app import create_app
from stream_sentinel.registry_server.core import RegistryCore
from stream_sentinel.registry_server.negotiation import negotiate
from stream_sentinel.registry_server.store import MemoryLog

MEDIA = "application/vnd.schemaregistry.v1+json"
V1 = '{"type":"record","name":"Payment","fields":[{"name":"id","type":"string"}]}'
V2 = (
    '{"type":"record","name":"Payment","fields":[{"name":"id","type":"string"},'
    '{"name":"note","type":["null","string"],"default":null}]}'
)


@pytest.fixture
def client() -> TestClient:
    return TestClient(create_app(RegistryCore(MemoryLog())))


def post(client: TestClient, path: str, body: Any, **headers: str) -> Any:
    return client.post(path, content=json.dumps(body), headers={"Content-Type": MEDIA, **headers})


def answer(response: Any) -> tuple[int, Any]:
    return response.status_code, response.json()


SPECIAL_SUBJECTS = ["subj/ect_x", "a/b/c.proto", "100%", "with space", "café-ünï", "..", "a/../b"]


@pytest.mark.parametrize("subject", SPECIAL_SUBJECTS)
def test_every_subject_endpoint_takes_an_encoded_subject_as_one_opaque_name(
    client: TestClient, subject: str
) -> None:
    # Dots are unreserved, so clients would send ".." as is and their URL library would remove
    # it as a dot segment; encoded, it is a name like any other.
    path = quote(subject, safe="").replace(".", "%2E")
    assert answer(post(client, f"/subjects/{path}/versions", {"schema": V1})) == (200, {"id": 1})
    assert answer(client.get("/subjects")) == (200, [subject])
    assert answer(client.get(f"/subjects/{path}/versions")) == (200, [1])
    body = {"subject": subject, "version": 1, "id": 1, "schema": V1}
    assert answer(client.get(f"/subjects/{path}/versions/1")) == (200, body)
    assert answer(client.get(f"/subjects/{path}/versions/latest/schema")) == (200, json.loads(V1))
    assert answer(post(client, f"/subjects/{path}", {"schema": V1})) == (200, body)
    compatible = post(client, f"/compatibility/subjects/{path}/versions/latest", {"schema": V2})
    assert answer(compatible) == (200, {"is_compatible": True})
    assert answer(client.put(f"/config/{path}", json={"compatibility": "FULL"}))[0] == 200
    assert answer(client.get(f"/config/{path}")) == (200, {"compatibilityLevel": "FULL"})
    assert answer(client.put(f"/mode/{path}", json={"mode": "READWRITE"})) == (
        200,
        {"mode": "READWRITE"},
    )
    assert answer(client.get(f"/mode/{path}")) == (200, {"mode": "READWRITE"})
    assert answer(client.delete(f"/mode/{path}")) == (200, {"mode": "READWRITE"})
    assert answer(client.delete(f"/config/{path}")) == (200, {"compatibilityLevel": "FULL"})
    assert answer(client.get("/schemas/ids/1/versions")) == (
        200,
        [{"subject": subject, "version": 1}],
    )
    assert answer(client.get("/schemas/ids/1/subjects")) == (200, [subject])
    assert answer(client.get(f"/subjects/{path}/versions/1/referencedby")) == (200, [])
    assert answer(post(client, f"/subjects/{path}/versions", {"schema": V2})) == (200, {"id": 2})
    assert answer(post(client, f"/compatibility/subjects/{path}/versions", {"schema": V2})) == (
        200,
        {"is_compatible": True},
    )
    assert answer(client.delete(f"/subjects/{path}/versions/2")) == (200, 2)
    assert answer(client.delete(f"/subjects/{path}")) == (200, [1])
    assert answer(client.delete(f"/subjects/{path}?permanent=true")) == (200, [1, 2])
    assert answer(client.get("/subjects?deleted=true")) == (200, [])


def test_an_unknown_encoded_subject_is_40401_with_its_decoded_name(client: TestClient) -> None:
    assert answer(client.get("/subjects/a%2Fb/versions")) == (
        404,
        {"error_code": 40401, "message": "Subject 'a/b' not found."},
    )


def test_subject_modes_get_put_delete_as_confluent(client: TestClient) -> None:
    assert answer(client.get("/mode/pay-value")) == (
        404,
        {
            "error_code": 40409,
            "message": "Subject 'pay-value' does not have subject-level mode configured",
        },
    )
    assert answer(client.get("/mode/pay-value?defaultToGlobal=true")) == (
        200,
        {"mode": "READWRITE"},
    )
    assert answer(client.put("/mode/pay-value", json={"mode": "readonly"})) == (
        200,
        {"mode": "READONLY"},
    )
    assert answer(client.get("/mode/pay-value")) == (200, {"mode": "READONLY"})
    refused = answer(post(client, "/subjects/pay-value/versions", {"schema": V1}))
    assert refused == (
        422,
        {"error_code": 42205, "message": "Subject pay-value is in read-only mode"},
    )
    assert answer(post(client, "/subjects/other-value/versions", {"schema": V1})) == (
        200,
        {"id": 1},
    )
    assert answer(client.delete("/mode/pay-value")) == (200, {"mode": "READONLY"})
    assert answer(client.delete("/mode/pay-value")) == (
        404,
        {"error_code": 40401, "message": "Subject 'pay-value' not found."},
    )
    assert answer(post(client, "/subjects/pay-value/versions", {"schema": V1})) == (200, {"id": 1})
    assert (
        answer(client.put("/mode/pay-value", json={"mode": "SIDEWAYS"}))[1]["error_code"] == 42204
    )


def test_a_subject_in_import_mode_takes_ids_while_others_do_not(client: TestClient) -> None:
    assert answer(client.put("/mode/old-value", json={"mode": "IMPORT"})) == (
        200,
        {"mode": "IMPORT"},
    )
    imported = post(client, "/subjects/old-value/versions", {"schema": V1, "id": 40, "version": 3})
    assert answer(imported) == (200, {"id": 40})
    assert answer(client.get("/subjects/old-value/versions")) == (200, [3])
    refused = post(client, "/subjects/new-value/versions", {"schema": V2, "id": 41})
    assert answer(refused)[1]["error_code"] == 42205


def test_get_schemas_lists_versions_with_confluents_filters(client: TestClient) -> None:
    post(client, "/subjects/pay-value/versions", {"schema": V1})
    post(client, "/subjects/pay-value/versions", {"schema": V2})
    post(client, "/subjects/refund-value/versions", {"schema": '"string"'})
    client.delete("/subjects/refund-value")
    every = answer(client.get("/schemas"))[1]
    assert [(s["subject"], s["version"], s["id"]) for s in every] == [
        ("pay-value", 1, 1),
        ("pay-value", 2, 2),
    ]
    assert every[0] == {"subject": "pay-value", "version": 1, "id": 1, "schema": V1}
    latest = answer(client.get("/schemas?latestOnly=true&deleted=true"))[1]
    assert [(s["subject"], s["version"]) for s in latest] == [("pay-value", 2), ("refund-value", 1)]
    prefixed = answer(client.get("/schemas?subjectPrefix=refund&deleted=true"))[1]
    assert [s["subject"] for s in prefixed] == ["refund-value"]
    assert answer(client.get("/schemas?offset=1&limit=1"))[1][0]["version"] == 2


def test_metadata_and_context_endpoints_current_clients_call(client: TestClient) -> None:
    assert answer(client.get("/v1/metadata/id")) == (
        200,
        {
            "scope": {
                "path": [],
                "clusters": {"kafka-cluster": "", "schema-registry-cluster": "schema-registry"},
            }
        },
    )
    assert answer(client.get("/v1/metadata/version"))[1]["version"].startswith("7.")
    assert answer(client.get("/contexts")) == (200, ["."])


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "error"),
    [
        (
            "POST",
            "/compatibility/subjects/ghost/versions/2",
            {"schema": V1},
            404,
            (40402, "Version 2 not found."),
        ),
        (
            "POST",
            "/compatibility/subjects/pay-value/versions/7",
            {"schema": V1},
            404,
            (40402, "Version 7 not found."),
        ),
        ("GET", "/schemas/ids/x1", None, 404, (404, "HTTP 404 Not Found")),
        ("GET", "/schemas/ids/x1/versions", None, 404, (404, "HTTP 404 Not Found")),
        ("GET", "/schemas/ids/99/subjects", None, 404, (40403, "Schema 99 not found")),
        ("GET", "/subjects/ghost/versions/1", None, 404, (40401, "Subject 'ghost' not found.")),
        ("GET", "/subjects/pay-value/versions/5", None, 404, (40402, "Version 5 not found.")),
        (
            "GET",
            "/subjects/pay-value/versions/5/referencedby",
            None,
            404,
            (40402, "Version 5 not found."),
        ),
        (
            "GET",
            "/config/pay-value",
            None,
            404,
            (40408, "Subject 'pay-value' does not have subject-level compatibility configured"),
        ),
        ("POST", "/subjects/pay-value/versions", {"schema": None}, 422, (42201, "Empty schema")),
        ("POST", "/subjects/pay-value", {"schema": ""}, 422, (42201, "Empty schema")),
        (
            "POST",
            "/compatibility/subjects/pay-value/versions/latest",
            {},
            422,
            (42201, "Empty schema"),
        ),
    ],
)
def test_error_paths_answer_confluents_codes(
    client: TestClient, method: str, path: str, body: Any, status: int, error: tuple[int, str]
) -> None:
    post(client, "/subjects/pay-value/versions", {"schema": V1})
    content = None if body is None else json.dumps(body)
    response = client.request(method, path, content=content, headers={"Content-Type": MEDIA})
    assert answer(response) == (status, {"error_code": error[0], "message": error[1]})


def test_compatibility_against_latest_of_an_unknown_subject_is_compatible(
    client: TestClient,
) -> None:
    check = post(client, "/compatibility/subjects/ghost/versions/latest", {"schema": V1})
    assert answer(check) == (200, {"is_compatible": True})


def test_lookup_compares_avros_canonical_form(client: TestClient) -> None:
    assert (
        answer(post(client, "/subjects/n-value/versions", {"schema": '{"type":"int","name":"n"}'}))[
            0
        ]
        == 200
    )
    found = answer(post(client, "/subjects/n-value", {"schema": '{"type":"int"}'}))
    assert found == (
        200,
        {"subject": "n-value", "version": 1, "id": 1, "schema": '{"type":"int","name":"n"}'},
    )
    documented = json.loads(V1)
    documented["doc"] = "a payment"
    documented["fields"][0]["doc"] = "its id"
    post(client, "/subjects/pay-value/versions", {"schema": json.dumps(documented)})
    assert answer(post(client, "/subjects/pay-value", {"schema": V1}))[1]["version"] == 1
    assert (
        answer(post(client, "/subjects/pay-value", {"schema": '"long"'}))[1]["error_code"] == 40403
    )


def test_a_primitive_with_meaningless_attributes_is_the_same_schema(client: TestClient) -> None:
    assert answer(
        post(client, "/subjects/n-value/versions", {"schema": '{"type":"int","name":"n"}'})
    ) == (200, {"id": 1})
    assert answer(post(client, "/subjects/n-value/versions", {"schema": '"int"'})) == (
        200,
        {"id": 1},
    )
    assert answer(client.get("/subjects/n-value/versions")) == (200, [1])


@pytest.mark.parametrize(
    ("accept", "media_type"),
    [
        (None, MEDIA),
        ("*/*", MEDIA),
        ("application/vnd.schemaregistry.v1+json", MEDIA),
        ("application/vnd.schemaregistry+json", "application/vnd.schemaregistry+json"),
        ("application/json", "application/json"),
        ("application/json, application/vnd.schemaregistry.v1+json;q=0.1", "application/json"),
        ("text/html, application/*;q=0.5", MEDIA),
    ],
)
def test_responses_carry_the_type_accept_asks_for(
    client: TestClient, accept: str | None, media_type: str
) -> None:
    headers = {} if accept is None else {"Accept": accept}
    response = client.get("/subjects", headers=headers)
    assert (response.status_code, response.headers["content-type"]) == (200, media_type)
    assert negotiate(accept) == media_type


@pytest.mark.parametrize("accept", ["text/html", "application/xml", "application/json;q=0"])
def test_an_unacceptable_accept_is_406_and_reaches_no_handler(
    client: TestClient, accept: str
) -> None:
    status, body = answer(
        post(client, "/subjects/pay-value/versions", {"schema": V1}, Accept=accept)
    )
    assert (status, body["error_code"]) == (406, 406)
    assert body["message"].startswith("HTTP 406 Not Acceptable")
    assert answer(client.get("/subjects")) == (200, [])


def test_an_unsupported_content_type_is_415(client: TestClient) -> None:
    response = client.post(
        "/subjects/pay-value/versions",
        content=json.dumps({"schema": V1}),
        headers={"Content-Type": "text/xml"},
    )
    assert (response.status_code, response.json()["error_code"]) == (415, 415)
