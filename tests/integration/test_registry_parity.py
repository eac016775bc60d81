"""Confluent parity of the real registry (the session stack's, on real Kafka), driven over HTTP
and by confluent-kafka's own client and Avro serde (issue 15, items 1-6 and 9).

Every subject carries the test's topic prefix, so tests share the service without meeting; the
global compatibility level and mode are left alone.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from confluent_kafka.schema_registry import Schema, SchemaReference, SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.schema_registry.error import SchemaRegistryError
from confluent_kafka.serialization import MessageField, SerializationContext

from stream_sentinel.config import Settings

MEDIA = "application/vnd.schemaregistry.v1+json"


def record(settings: Settings, name: str, *fields: dict[str, Any]) -> str:
    """A record named after the test, so its id is not shared with other tests' schemas."""
    full = name + settings.kafka.topic_prefix.strip("-")
    return json.dumps({"type": "record", "name": full, "fields": list(fields)})


ID = {"name": "id", "type": "string"}


def http(settings: Settings) -> httpx.Client:
    return httpx.Client(base_url=settings.registry.url, timeout=30.0)


def post(client: httpx.Client, path: str, body: Any, **headers: str) -> tuple[int, Any]:
    response = client.post(
        path, content=json.dumps(body), headers={"Content-Type": MEDIA, **headers}
    )
    return response.status_code, response.json()


@pytest.mark.parametrize("name", ["subj/ect_x", "a/b/c.proto", "50%", "with space", "zürich-ünï"])
def test_confluents_client_registers_looks_up_and_deletes_special_subjects(
    settings: Settings, name: str
) -> None:
    registry = SchemaRegistryClient({"url": settings.registry.url})
    subject = settings.kafka.topic_prefix + name
    schema = Schema(record(settings, "Special", ID), "AVRO")
    schema_id = registry.register_schema(subject, schema)
    fresh = SchemaRegistryClient({"url": settings.registry.url})
    assert subject in fresh.get_subjects()
    assert fresh.get_versions(subject) == [1]
    found = fresh.lookup_schema(subject, schema)
    assert (found.subject, found.version, found.schema_id) == (subject, 1, schema_id)
    assert fresh.get_latest_version(subject).schema_id == schema_id
    assert fresh.set_compatibility(subject, "FULL") == {"compatibility": "FULL"}
    assert fresh.delete_subject(subject) == [1]
    assert fresh.delete_subject(subject, permanent=True) == [1]
    with pytest.raises(SchemaRegistryError) as gone:
        fresh.get_versions(subject)
    assert (gone.value.http_status_code, gone.value.error_code) == (404, 40401)


def test_a_subject_with_dots_and_slashes_sent_encoded_is_one_name(settings: Settings) -> None:
    subject = settings.kafka.topic_prefix + "../x/.."
    path = quote(subject, safe="").replace(".", "%2E")
    with http(settings) as client:
        assert post(client, f"/subjects/{path}/versions", {"schema": '"string"'})[0] == 200
        assert client.get(f"/subjects/{path}/versions").json() == [1]
        assert client.get(f"/subjects/{path}/versions/1").json()["subject"] == subject


def test_references_end_to_end_with_confluents_avro_serde(settings: Settings) -> None:
    registry = SchemaRegistryClient({"url": settings.registry.url})
    money_subject = settings.kafka.topic_prefix + "pay/money.avsc"
    money_name = "Money" + settings.kafka.topic_prefix.strip("-")
    money = json.dumps(
        {
            "type": "record",
            "name": money_name,
            "namespace": "pay",
            "fields": [
                {"name": "amount", "type": "double"},
                {"name": "currency", "type": "string"},
            ],
        }
    )
    registry.register_schema(money_subject, Schema(money, "AVRO"))
    order = json.dumps(
        {
            "type": "record",
            "name": "Order",
            "namespace": "pay",
            "fields": [
                {"name": "id", "type": "string"},
                {"name": "total", "type": f"pay.{money_name}"},
            ],
        }
    )
    reference = SchemaReference(f"pay.{money_name}", money_subject, 1)
    serializer = AvroSerializer(registry, Schema(order, "AVRO", [reference]))
    topic = settings.kafka.topic_prefix + "orders"
    context = SerializationContext(topic, MessageField.VALUE)
    value = {"id": "o-1", "total": {"amount": 12.5, "currency": "EUR"}}
    payload = serializer(value, context)
    fresh = SchemaRegistryClient({"url": settings.registry.url})
    assert AvroDeserializer(fresh)(payload, context) == value
    registered = fresh.get_latest_version(f"{topic}-value")
    assert [(r.name, r.subject, r.version) for r in registered.schema.references] == [
        (f"pay.{money_name}", money_subject, 1)
    ]
    assert fresh.get_referenced_by(money_subject, 1) == [registered.schema_id]
    with pytest.raises(SchemaRegistryError) as refused:
        fresh.delete_version(money_subject, 1)
    assert (refused.value.http_status_code, refused.value.error_code) == (422, 42206)


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code", "message"),
    [
        (
            "POST",
            "/compatibility/subjects/{p}ghost/versions/3",
            {"schema": '"int"'},
            404,
            40402,
            "Version 3 not found.",
        ),
        ("GET", "/schemas/ids/not-a-number", None, 404, 404, "HTTP 404 Not Found"),
        ("GET", "/subjects/{p}ghost/versions", None, 404, 40401, "Subject '{p}ghost' not found."),
        (
            "GET",
            "/mode/{p}ghost",
            None,
            404,
            40409,
            "Subject '{p}ghost' does not have subject-level mode configured",
        ),
        (
            "GET",
            "/config/{p}ghost",
            None,
            404,
            40408,
            "Subject '{p}ghost' does not have subject-level compatibility configured",
        ),
        ("POST", "/subjects/{p}x/versions", {"schema": ""}, 422, 42201, "Empty schema"),
        ("POST", "/subjects/{p}x/versions", {}, 422, 42201, "Empty schema"),
        ("GET", "/subjects/{p}x/versions/zero", None, 422, 42202, None),
        ("PUT", "/config/{p}x", {"compatibility": "SIDEWAYS"}, 422, 42203, None),
        ("PUT", "/mode/{p}x", {"mode": "SIDEWAYS"}, 422, 42204, None),
    ],
)
def test_error_paths_answer_confluents_codes_and_wording(
    settings: Settings,
    method: str,
    path: str,
    body: Any,
    status: int,
    code: int,
    message: str | None,
) -> None:
    prefix = settings.kafka.topic_prefix
    with http(settings) as client:
        content = None if body is None else json.dumps(body)
        headers = {"Content-Type": MEDIA}
        response = client.request(method, path.format(p=prefix), content=content, headers=headers)
    assert (response.status_code, response.json()["error_code"]) == (status, code)
    if message is not None:
        assert response.json()["message"] == message.format(p=prefix)


def test_lookup_finds_a_schema_by_avros_canonical_form(settings: Settings) -> None:
    registry = SchemaRegistryClient({"url": settings.registry.url})
    subject = settings.kafka.topic_prefix + "n-value"
    registered = registry.register_schema(subject, Schema('{"type":"int","name":"n"}', "AVRO"))
    assert registry.lookup_schema(subject, Schema('{"type":"int"}', "AVRO")).schema_id == registered
    documented = json.loads(record(settings, "Doc", ID))
    documented["doc"] = "explained"
    doc_subject = settings.kafka.topic_prefix + "doc-value"
    doc_id = registry.register_schema(doc_subject, Schema(json.dumps(documented), "AVRO"))
    plain = Schema(record(settings, "Doc", ID), "AVRO")
    assert registry.lookup_schema(doc_subject, plain).schema_id == doc_id


@pytest.mark.parametrize(
    ("accept", "status", "media_type"),
    [
        (None, 200, MEDIA),
        ("application/json", 200, "application/json"),
        ("application/vnd.schemaregistry+json", 200, "application/vnd.schemaregistry+json"),
        ("text/html", 406, MEDIA),
    ],
)
def test_accept_is_negotiated(
    settings: Settings, accept: str | None, status: int, media_type: str
) -> None:
    with http(settings) as client:
        response = client.get("/subjects", headers={} if accept is None else {"Accept": accept})
    assert (response.status_code, response.headers["content-type"]) == (status, media_type)


def test_an_unsupported_content_type_is_415(settings: Settings) -> None:
    with http(settings) as client:
        response = client.post(
            f"/subjects/{settings.kafka.topic_prefix}x/versions",
            content="<schema/>",
            headers={"Content-Type": "text/xml"},
        )
    assert (response.status_code, response.json()["error_code"]) == (415, 415)


def test_the_added_endpoints_answer_as_confluents(settings: Settings) -> None:
    prefix = settings.kafka.topic_prefix
    registry = SchemaRegistryClient({"url": settings.registry.url})
    registry.register_schema(
        prefix + "listed-value", Schema(record(settings, "Listed", ID), "AVRO")
    )
    assert registry.update_mode(prefix + "listed-value", "READONLY") == "READONLY"
    assert registry.get_mode(prefix + "listed-value") == "READONLY"
    assert registry.delete_mode(prefix + "listed-value") == "READONLY"
    with http(settings) as client:
        listed = client.get("/schemas", params={"subjectPrefix": prefix + "listed"}).json()
        assert [(s["subject"], s["version"]) for s in listed] == [(prefix + "listed-value", 1)]
        latest = client.get("/schemas", params={"subjectPrefix": prefix, "latestOnly": "true"})
        assert all(s["subject"].startswith(prefix) for s in latest.json())
        assert client.get("/v1/metadata/id").json()["scope"]["clusters"]["schema-registry-cluster"]
        assert client.get("/contexts").json() == ["."]
        schema_id = listed[0]["id"]
        assert client.get(f"/schemas/ids/{schema_id}/subjects").json() == [prefix + "listed-value"]
