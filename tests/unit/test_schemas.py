"""The bundled Avro contracts: shapes, enums equal to the code's, subjects and evolution."""

from __future__ import annotations

import dataclasses
import enum
import json
from typing import Any

import avro.schema
import pytest
from avro.compatibility import ReaderWriterCompatibilityChecker, SchemaCompatibilityType

from stream_sentinel import domain
from stream_sentinel.errors import SchemaError
from stream_sentinel.registry_server.avro_schema import parse_schema
from stream_sentinel.transport.topics import Topics
from stream_sentinel.wire.schemas import CATALOG, DATA_TOPICS, find, latest_for_topic, value_subject

#: Avro enum name -> the code's enum (the single source of truth).
CODE_ENUMS: dict[str, type[enum.Enum]] = {
    "RiskLevel": domain.RiskLevel,
    "Decision": domain.Decision,
    "Action": domain.Action,
    "Channel": domain.Channel,
    "CardType": domain.CardType,
    "Label": domain.Label,
    "FeedbackSource": domain.FeedbackSource,
    "ModelEventType": domain.ModelEventType,
}

DATACLASSES = {
    "Transaction": domain.Transaction,
    "FraudScore": domain.FraudScore,
    "FraudAlert": domain.FraudAlert,
    "UserAction": domain.UserAction,
    "Feedback": domain.Feedback,
    "DeadLetter": domain.DeadLetter,
    "ModelEvent": domain.ModelEvent,
}


def _named_types(schema: Any, kind: str) -> list[dict[str, Any]]:
    """Every named type of ``kind`` defined anywhere in a schema."""
    found: list[dict[str, Any]] = []
    if isinstance(schema, list):
        for branch in schema:
            found += _named_types(branch, kind)
    elif isinstance(schema, dict):
        if schema.get("type") == kind:
            found.append(schema)
        for field in schema.get("fields", []):
            found += _named_types(field["type"], kind)
        for key in ("items", "values"):
            if key in schema:
                found += _named_types(schema[key], kind)
    return found


def _field(schema: dict[str, Any], name: str) -> dict[str, Any]:
    return next(field for field in schema["fields"] if field["name"] == name)


def test_catalog_lists_every_record_in_registration_order() -> None:
    assert [(s.name, s.version, s.topic) for s in CATALOG] == [
        ("Transaction", 1, "transactions"),
        ("Transaction", 2, "transactions"),
        ("FraudScore", 1, "fraud-scores"),
        ("FraudScore", 2, "fraud-scores"),
        ("FraudAlert", 1, "fraud-alerts"),
        ("UserAction", 1, "user-actions"),
        ("Feedback", 1, "fraud-feedback"),
        ("DeadLetter", 1, "dead-letter"),
        ("DeadLetter", 2, "dead-letter"),
        ("ModelEvent", 1, "model-events"),
        ("ModelEvent", 2, "model-events"),
        ("DecisionFeatures", 1, "decision-features"),
        ("DecisionFeatures", 2, "decision-features"),
        ("DriftEvent", 1, "drift-events"),
    ]
    assert DATA_TOPICS == (
        "transactions",
        "fraud-scores",
        "fraud-alerts",
        "user-actions",
        "fraud-feedback",
        "dead-letter",
        "model-events",
        "decision-features",
        "drift-events",
    )


@pytest.mark.parametrize("bundled", CATALOG, ids=lambda s: f"{s.name}-v{s.version}")
def test_every_schema_is_valid_for_avro_fastavro_and_the_registry(bundled: Any) -> None:
    assert avro.schema.parse(bundled.text).fullname == f"io.streamsentinel.{bundled.name}"
    assert bundled.parsed["name"] == f"io.streamsentinel.{bundled.name}"
    assert parse_schema(bundled.text).identity.startswith("{")


@pytest.mark.parametrize("bundled", CATALOG, ids=lambda s: f"{s.name}-v{s.version}")
def test_every_enum_in_every_schema_equals_the_codes_enum(bundled: Any) -> None:
    enums = _named_types(bundled.json, "enum")
    for avro_enum in enums:
        code_enum = CODE_ENUMS[avro_enum["name"]]
        names = [member.name for member in code_enum]
        assert avro_enum["symbols"] == names
        assert avro_enum["default"] == domain.ENUM_DEFAULTS[code_enum]


def test_every_code_enum_appears_in_some_schema() -> None:
    used = {e["name"] for s in CATALOG for e in _named_types(s.json, "enum")}
    assert used == set(CODE_ENUMS)


def test_enum_values_are_their_symbols_so_records_carry_names() -> None:
    for code_enum in CODE_ENUMS.values():
        if code_enum is domain.RiskLevel:
            continue  # an IntEnum: records.py writes .name
        assert [member.value for member in code_enum] == [member.name for member in code_enum]


@pytest.mark.parametrize("name", DATACLASSES)
def test_latest_schema_fields_equal_the_dataclass_fields(name: str) -> None:
    schema = find(name).json
    fields = [field.name for field in dataclasses.fields(DATACLASSES[name])]
    assert [field["name"] for field in schema["fields"]] == fields


def test_transaction_v1_is_v2_without_the_evolved_fields() -> None:
    v1 = [field["name"] for field in find("Transaction", 1).json["fields"]]
    v2 = [field["name"] for field in find("Transaction", 2).json["fields"]]
    assert v2 == [*v1, "merchant_country", "metadata"]
    assert v1[:4] == ["transaction_id", "user_id", "amount", "timestamp"]


def test_transaction_required_and_optional_fields() -> None:
    schema = find("Transaction", 2).json
    required = [f["name"] for f in schema["fields"] if "default" not in f]
    assert required == ["transaction_id", "user_id", "amount", "timestamp"]
    assert _field(schema, "channel")["default"] == "OTHER"
    assert _field(schema, "card_type")["default"] == "UNKNOWN"
    assert _field(schema, "merchant_country") == {
        "name": "merchant_country",
        "type": ["null", "string"],
        "default": None,
        "doc": "ISO 3166-1 alpha-2 country of the merchant (v2).",
    }
    assert _field(schema, "metadata")["type"] == {"type": "map", "values": "string"}
    assert _field(schema, "metadata")["default"] == {}


TIME_FIELDS = {
    "Transaction": ["timestamp"],
    "FraudScore": ["event_time", "produced_time", "decided_time"],
    "FraudAlert": ["event_time", "produced_time", "alert_time"],
    "UserAction": ["created_time"],
    "Feedback": ["event_time", "label_time"],
    "DeadLetter": ["failed_time"],
    "ModelEvent": ["time"],
}


@pytest.mark.parametrize("name", TIME_FIELDS)
def test_times_are_timestamp_millis_longs(name: str) -> None:
    schema = find(name).json
    for field_name in TIME_FIELDS[name]:
        assert _field(schema, field_name)["type"] == {
            "type": "long",
            "logicalType": "timestamp-millis",
        }


def test_optional_expiry_is_a_nullable_timestamp() -> None:
    assert _field(find("UserAction").json, "expires_time")["type"] == [
        "null",
        {"type": "long", "logicalType": "timestamp-millis"},
    ]


@pytest.mark.parametrize("name", ["Transaction", "FraudScore", "FraudAlert"])
def test_amounts_are_doubles(name: str) -> None:
    assert _field(find(name).json, "amount")["type"] == "double"


def test_contributions_are_records_of_feature_and_value() -> None:
    for name in ("FraudScore", "FraudAlert"):
        items = _field(find(name).json, "contributions")["type"]["items"]
        assert items["name"] == "Contribution"
        assert [(f["name"], f["type"]) for f in items["fields"]] == [
            ("feature", "string"),
            ("value", "double"),
        ]


def test_dead_letter_keeps_the_original_bytes() -> None:
    schema = find("DeadLetter").json
    assert _field(schema, "key")["type"] == ["null", "bytes"]
    assert _field(schema, "value")["type"] == "bytes"
    assert _field(schema, "partition")["type"] == "int"
    assert _field(schema, "offset")["type"] == "long"


def test_model_event_metrics_are_a_map_of_doubles() -> None:
    assert _field(find("ModelEvent").json, "metrics")["type"] == {"type": "map", "values": "double"}


def _compatible(reader: str, writer: str) -> bool:
    result = ReaderWriterCompatibilityChecker().get_compatibility(
        avro.schema.parse(reader), avro.schema.parse(writer)
    )
    return result.compatibility is SchemaCompatibilityType.compatible


def test_transaction_v2_is_fully_compatible_with_v1() -> None:
    v1, v2 = find("Transaction", 1).text, find("Transaction", 2).text
    assert _compatible(reader=v2, writer=v1)  # backward: new consumers read old data
    assert _compatible(reader=v1, writer=v2)  # forward: old consumers read new data


def test_subjects_follow_topic_name_strategy_with_the_prefix() -> None:
    assert value_subject("transactions", Topics()) == "transactions-value"
    assert value_subject("fraud-scores", Topics("t1-")) == "t1-fraud-scores-value"
    assert find("Feedback").subject(Topics("dev.")) == "dev.fraud-feedback-value"


def test_latest_for_topic_is_what_producers_write() -> None:
    assert (latest_for_topic("transactions").name, latest_for_topic("transactions").version) == (
        "Transaction",
        2,
    )
    assert latest_for_topic("model-events").filename == "model_event.v2.avsc"


def test_unknown_topic_or_schema_is_a_clear_error() -> None:
    with pytest.raises(
        SchemaError,
        match="no bundled schema for topic 'payments'; known topics: transactions, fraud-scores",
    ):
        latest_for_topic("payments")
    with pytest.raises(SchemaError, match="no bundled schema 'Transaction' version 3"):
        find("Transaction", 3)


def test_parsed_schemas_are_cached_and_json_copies_are_fresh() -> None:
    schema = find("FraudScore")
    assert schema.parsed is schema.parsed
    copy = schema.json
    copy["name"] = "changed"
    assert schema.json["name"] == "FraudScore"
    assert json.loads(schema.text)["namespace"] == "io.streamsentinel"
