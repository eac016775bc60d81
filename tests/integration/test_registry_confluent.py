"""The real registry service (the session stack's) driven by confluent-kafka's own client.

Every subject carries the test's topic prefix, so tests share the service without meeting. The
global compatibility level is left alone here (other tests rely on BACKWARD); changing it is
exercised on a private registry in ``test_registry_restart.py``.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError

from stream_sentinel.config import Settings
from stream_sentinel.wire.schemas import find


def client(settings: Settings) -> SchemaRegistryClient:
    return SchemaRegistryClient({"url": settings.registry.url})


def avro(text: str) -> Schema:
    return Schema(text, "AVRO")


def compact(text: str) -> str:
    return json.dumps(json.loads(text), separators=(",", ":"))


def unique_record(settings: Settings, *fields: dict[str, Any]) -> str:
    """A record named after the test, so its id is not shared with any other test's schemas."""
    name = "R" + settings.kafka.topic_prefix.strip("-")
    return json.dumps({"type": "record", "name": name, "fields": list(fields)})


ID = {"name": "id", "type": "string"}


def test_register_and_fetch_by_id(settings: Settings) -> None:
    registry = client(settings)
    subject = f"{settings.kafka.topic_prefix}transactions-value"
    v1 = find("Transaction", 1).text
    schema_id = registry.register_schema(subject, avro(v1))
    assert registry.register_schema(subject, avro(v1)) == schema_id
    fresh = client(settings)  # no cache: a real round trip
    assert fresh.get_schema(schema_id).schema_str == compact(v1)
    latest = fresh.get_latest_version(subject)
    assert (latest.subject, latest.version, latest.schema_id) == (subject, 1, schema_id)
    assert fresh.get_versions(subject) == [1]
    assert subject in fresh.get_subjects()
    found = fresh.lookup_schema(subject, avro(v1))
    assert (found.version, found.schema_id) == (1, schema_id)
    assert subject in fresh.get_subjects_by_schema_id(schema_id)
    assert fresh.get_schema_types() == ["AVRO"]


def test_transaction_v1_then_v2_is_accepted(settings: Settings) -> None:
    registry = client(settings)
    subject = f"{settings.kafka.topic_prefix}transactions-value"
    first = registry.register_schema(subject, avro(find("Transaction", 1).text))
    v2 = avro(find("Transaction", 2).text)
    assert registry.test_compatibility(subject, v2) is True
    second = registry.register_schema(subject, v2)
    assert second != first
    assert registry.get_versions(subject) == [1, 2]
    assert registry.get_version(subject, 2).schema_id == second


def test_a_new_field_without_default_is_rejected_with_409(settings: Settings) -> None:
    registry = client(settings)
    subject = f"{settings.kafka.topic_prefix}transactions-value"
    registry.register_schema(subject, avro(find("Transaction", 2).text))
    breaking = find("Transaction", 2).json
    breaking["fields"].append({"name": "risk_hint", "type": "string"})
    candidate = avro(json.dumps(breaking))
    assert registry.test_compatibility(subject, candidate) is False
    with pytest.raises(SchemaRegistryError) as error:
        registry.register_schema(subject, candidate)
    assert (error.value.http_status_code, error.value.error_code) == (409, 409)
    assert "READER_FIELD_MISSING_DEFAULT_VALUE" in error.value.error_message
    assert registry.get_versions(subject) == [1]


def test_per_subject_config_overrides_the_global_one(settings: Settings) -> None:
    registry = client(settings)
    relaxed = f"{settings.kafka.topic_prefix}relaxed-value"
    strict = f"{settings.kafka.topic_prefix}strict-value"
    v1 = unique_record(settings, ID)
    v2 = unique_record(settings, ID, {"name": "must", "type": "int"})
    for subject in (relaxed, strict):
        registry.register_schema(subject, avro(v1))
    assert registry.set_compatibility(relaxed, "FORWARD") == {"compatibility": "FORWARD"}
    assert registry.get_compatibility(relaxed) == "FORWARD"
    assert registry.get_compatibility() == "BACKWARD"
    assert registry.register_schema(relaxed, avro(v2)) > 0  # forward-compatible only
    with pytest.raises(SchemaRegistryError) as error:
        registry.register_schema(strict, avro(v2))  # the global BACKWARD applies here
    assert error.value.error_code == 409
    assert registry.get_versions(relaxed) == [1, 2]
    assert registry.get_versions(strict) == [1]
    deleted = registry.delete_config(relaxed)
    assert deleted.compatibility_level is not None
    assert deleted.compatibility_level.value == "FORWARD"
    with pytest.raises(SchemaRegistryError) as missing:
        registry.get_compatibility(relaxed)
    assert missing.value.error_code == 40408


def test_soft_then_hard_delete(settings: Settings) -> None:
    registry = client(settings)
    subject = f"{settings.kafka.topic_prefix}doomed-value"
    schema_id = registry.register_schema(subject, avro(unique_record(settings, ID)))
    with pytest.raises(SchemaRegistryError) as not_soft:
        registry.delete_subject(subject, permanent=True)
    assert not_soft.value.error_code == 40405
    assert registry.delete_subject(subject) == [1]
    assert subject not in registry.get_subjects()
    assert client(settings).get_schema(schema_id).schema_str  # still resolvable by id
    with pytest.raises(SchemaRegistryError) as soft:
        registry.delete_subject(subject)
    assert soft.value.error_code == 40404
    assert registry.delete_subject(subject, permanent=True) == [1]
    with pytest.raises(SchemaRegistryError) as gone:
        client(settings).get_schema(schema_id)
    assert (gone.value.http_status_code, gone.value.error_code) == (404, 40403)
    with pytest.raises(SchemaRegistryError) as unknown:
        registry.get_versions(subject)
    assert unknown.value.error_code == 40401


def test_deleting_one_version(settings: Settings) -> None:
    registry = client(settings)
    subject = f"{settings.kafka.topic_prefix}versions-value"
    registry.register_schema(subject, avro(unique_record(settings, ID)))
    registry.register_schema(
        subject,
        avro(unique_record(settings, ID, {"name": "n", "type": ["null", "int"], "default": None})),
    )
    assert registry.delete_version(subject, 1) == 1
    assert registry.get_versions(subject) == [2]
    with pytest.raises(SchemaRegistryError) as missing:
        registry.get_version(subject, 1)
    assert missing.value.error_code == 40402
    assert registry.delete_version(subject, 1, permanent=True) == 1


def test_bad_requests_get_confluent_errors(settings: Settings) -> None:
    registry = client(settings)
    with pytest.raises(SchemaRegistryError) as invalid:
        registry.register_schema(f"{settings.kafka.topic_prefix}x-value", avro('{"type": "nope"}'))
    assert (invalid.value.http_status_code, invalid.value.error_code) == (422, 42201)
    with pytest.raises(SchemaRegistryError) as unknown:
        registry.get_latest_version(f"{settings.kafka.topic_prefix}ghost-value")
    assert (unknown.value.http_status_code, unknown.value.error_code) == (404, 40401)
    with pytest.raises(SchemaRegistryError) as bad_id:
        registry.get_schema(2_000_000_000)
    assert bad_id.value.error_code == 40403
