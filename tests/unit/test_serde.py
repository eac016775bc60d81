"""Avro serde on Confluent's wire format: framing, validation, resolution and the batch path."""

from __future__ import annotations

import io
import json
from typing import Any

import fastavro
import pytest

from stream_sentinel.errors import RegistryError, SerializationError, ServiceUnavailable
from stream_sentinel.registry.client import RegisteredSchema
from stream_sentinel.registry_server.local_client import LocalRegistryClient
from stream_sentinel.transport.topics import Topics
from stream_sentinel.wire.failures import DecodeError, DecodeFailure
from stream_sentinel.wire.json_codec import JsonDecoder, JsonEncoder
from stream_sentinel.wire.schemas import find
from stream_sentinel.wire.serde import (
    AvroDecoder,
    AvroEncoder,
    Serde,
    decoding_schema,
    frame,
    schema_id_of,
)

V1 = find("Transaction", 1).text
V2 = find("Transaction", 2).text
SUBJECT = "transactions-value"


def transaction(**changes: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "transaction_id": "tx-1",
        "user_id": "user-7",
        "amount": 42.5,
        "timestamp": 1_700_000_000_123,
        "currency": "EUR",
        "merchant_id": "m-9",
        "merchant_category": "grocery",
        "channel": "POS",
        "card_type": "DEBIT",
        "device_id": "d-1",
        "ip_address": "10.0.0.1",
        "latitude": 48.85,
        "longitude": 2.35,
        "merchant_latitude": None,
        "merchant_longitude": None,
        "country": "FR",
        "merchant_country": "FR",
        "metadata": {"mcc": "5411"},
    }
    record.update(changes)
    return record


def v1_of(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k not in ("merchant_country", "metadata")}


class CountingRegistry(LocalRegistryClient):
    """A local registry that counts the calls the serde makes."""

    def __init__(self) -> None:
        super().__init__(LocalRegistryClient.in_memory().core)
        self.by_id = 0
        self.registrations = 0

    def schema_by_id(self, schema_id: int) -> str:
        self.by_id += 1
        return super().schema_by_id(schema_id)

    def register(self, subject: str, schema: str) -> int:
        self.registrations += 1
        return super().register(subject, schema)


@pytest.fixture
def registry() -> CountingRegistry:
    return CountingRegistry()


def test_wire_format_is_magic_byte_big_endian_id_and_avro_body(registry: CountingRegistry) -> None:
    registry.register("other-value", '"string"')  # takes id 1, so ours is 2
    encoder = AvroEncoder(registry, SUBJECT, V2)
    payload = encoder(transaction())
    assert payload[:5] == b"\x00\x00\x00\x00\x02"
    assert encoder.schema_id == 2
    body = fastavro.schemaless_reader(
        io.BytesIO(payload[5:]), fastavro.parse_schema(json.loads(V2))
    )
    assert body["transaction_id"] == "tx-1"
    assert frame(258, b"xy") == b"\x00\x00\x00\x01\x02xy"
    assert schema_id_of(payload) == 2


def test_the_schema_id_is_resolved_once_on_first_use(registry: CountingRegistry) -> None:
    encoder = AvroEncoder(registry, SUBJECT, V2)
    assert registry.registrations == 0  # no registry call in the constructor
    for index in range(50):
        encoder(transaction(transaction_id=f"tx-{index}"))
    assert registry.registrations == 1
    assert registry.subjects() == [SUBJECT]


def test_without_auto_register_the_schema_must_already_be_registered(
    registry: CountingRegistry,
) -> None:
    encoder = AvroEncoder(registry, SUBJECT, V2, auto_register=False)
    with pytest.raises(RegistryError) as missing:
        encoder(transaction())
    assert (missing.value.error_code, str(missing.value)) == (
        40401,
        "Subject 'transactions-value' not found.",
    )
    schema_id = registry.register(SUBJECT, V2)
    assert AvroEncoder(registry, SUBJECT, V2, auto_register=False).schema_id == schema_id


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"amount": "12"}, "field amount: expected double, got str '12'"),
        ({"amount": None}, "field amount: expected double, got NoneType None"),
        ({"timestamp": 1.5}, "field timestamp: expected long, got float 1.5"),
        (
            {"channel": "CRYPTO"},
            "field channel: expected one of the Channel symbols "
            "['ONLINE', 'POS', 'ATM', 'MOBILE', 'OTHER'], got str 'CRYPTO'",
        ),
        ({"metadata": {"mcc": 5411}}, "field metadata['mcc']: expected string, got int 5411"),
        ({"merchant_idd": "m-1"}, "field merchant_idd: unknown field (not in the schema)"),
    ],
)
def test_a_non_conforming_record_raises_naming_the_field(
    registry: CountingRegistry, change: dict[str, Any], message: str
) -> None:
    encoder = AvroEncoder(registry, SUBJECT, V2)
    with pytest.raises(SerializationError) as error:
        encoder(transaction(**change))
    assert str(error.value) == (
        f"Transaction record does not conform to its schema ({message}); it was not sent"
    )


def test_a_missing_required_field_is_named(registry: CountingRegistry) -> None:
    record = transaction()
    del record["user_id"]
    with pytest.raises(
        SerializationError,
        match=r"\(field user_id: missing \(the field is "
        r"required and has no default\)\); it was not sent",
    ):
        AvroEncoder(registry, SUBJECT, V2)(record)


def test_a_rejected_record_registers_nothing(registry: CountingRegistry) -> None:
    with pytest.raises(SerializationError):
        AvroEncoder(registry, SUBJECT, V2)(transaction(amount="12"))
    assert (registry.registrations, registry.subjects()) == (0, [])


def test_fastavro_alone_would_have_coerced_these_records() -> None:
    # Why the validator exists: fastavro writes "12" as 12.0 and drops unknown fields silently.
    parsed = fastavro.parse_schema(json.loads(V2))
    stream = io.BytesIO()
    fastavro.schemaless_writer(stream, parsed, transaction(amount="12", merchant_idd="x"))
    stream.seek(0)
    assert fastavro.schemaless_reader(stream, parsed)["amount"] == 12.0


def test_optional_fields_may_be_omitted(registry: CountingRegistry) -> None:
    minimal = {"transaction_id": "t", "user_id": "u", "amount": 1.0, "timestamp": 5}
    decoded = AvroDecoder(registry, V2).decode(AvroEncoder(registry, SUBJECT, V2)(minimal))
    assert decoded == {
        **minimal,
        "currency": None,
        "merchant_id": None,
        "merchant_category": None,
        "channel": "OTHER",
        "card_type": "UNKNOWN",
        "device_id": None,
        "ip_address": None,
        "latitude": None,
        "longitude": None,
        "merchant_latitude": None,
        "merchant_longitude": None,
        "country": None,
        "merchant_country": None,
        "metadata": {},
    }


def test_a_v2_reader_reads_v1_data_with_defaults(registry: CountingRegistry) -> None:
    payload = AvroEncoder(registry, SUBJECT, V1)(v1_of(transaction()))
    assert AvroDecoder(registry, V2).decode(payload) == transaction(
        merchant_country=None, metadata={}
    )


def test_a_v1_reader_reads_v2_data_without_the_new_fields(registry: CountingRegistry) -> None:
    payload = AvroEncoder(registry, SUBJECT, V2)(transaction())
    assert AvroDecoder(registry, V1).decode(payload) == v1_of(transaction())


def test_a_reader_without_schema_reads_as_written(registry: CountingRegistry) -> None:
    payload = AvroEncoder(registry, SUBJECT, V1)(v1_of(transaction()))
    assert AvroDecoder(registry).decode(payload) == v1_of(transaction())


def test_timestamps_decode_as_epoch_millisecond_ints(registry: CountingRegistry) -> None:
    payload = AvroEncoder(registry, SUBJECT, V2)(transaction(timestamp=1_700_000_000_123))
    value = AvroDecoder(registry, V2).decode(payload)["timestamp"]
    assert (type(value), value) == (int, 1_700_000_000_123)


def test_an_unknown_enum_symbol_reads_as_the_enum_default(registry: CountingRegistry) -> None:
    newer = json.loads(V2)
    channel = next(f for f in newer["fields"] if f["name"] == "channel")
    channel["type"]["symbols"].append("CRYPTO")
    payload = AvroEncoder(registry, SUBJECT, json.dumps(newer))(transaction(channel="CRYPTO"))
    assert AvroDecoder(registry, V2).decode(payload)["channel"] == "OTHER"


def test_the_registry_is_asked_once_per_schema_id_not_per_message(
    registry: CountingRegistry,
) -> None:
    v1 = AvroEncoder(registry, SUBJECT, V1)
    v2 = AvroEncoder(registry, SUBJECT, V2)
    values = [v2(transaction()) if i % 2 else v1(v1_of(transaction())) for i in range(1000)]
    decoder = AvroDecoder(registry, V2)
    records, failures = decoder.decode_many(values)
    records_again, _ = decoder.decode_many(values)
    assert (len(records), failures, registry.by_id) == (1000, [], 2)
    assert records_again == records


def test_decode_many_never_raises_and_reports_each_bad_value(registry: CountingRegistry) -> None:
    good = AvroEncoder(registry, SUBJECT, V2)(transaction())
    values: list[bytes | None] = [
        good,
        None,
        b"",
        b"\x01\x00\x00\x00\x01abc",
        b"\x00\x00\x01",
        b"\x00\x00\x00\x00\x63x",
        good[:-4],
        good + b"\x00\x00",
        b'{"transaction_id": "json"}',
        good,
    ]
    records, failures = AvroDecoder(registry, V2).decode_many(values)
    assert [record is not None for record in records] == [
        True,
        False,
        False,
        False,
        False,
        False,
        False,
        False,
        False,
        True,
    ]
    assert failures == [
        DecodeFailure(1, "empty_value", "the record has no value (null or empty)"),
        DecodeFailure(2, "empty_value", "the record has no value (null or empty)"),
        DecodeFailure(3, "bad_magic", "unknown magic byte 1 (expected 0: Confluent wire format)"),
        DecodeFailure(4, "truncated_header", "3 bytes, shorter than the 5-byte header"),
        DecodeFailure(5, "unknown_schema_id", "schema id 99 is not in the registry", 99),
        DecodeFailure(6, "truncated_body", "the Avro body ends before the record does", 1),
        DecodeFailure(7, "trailing_bytes", "2 bytes left after the record (wrong schema id?)", 1),
        DecodeFailure(8, "bad_magic", "unknown magic byte 123 (expected 0: Confluent wire format)"),
    ]


def test_a_writer_the_reader_cannot_resolve_is_a_schema_mismatch(
    registry: CountingRegistry,
) -> None:
    document = json.loads(V2)
    document["fields"] = [
        {"name": "transaction_id", "type": "string"},
        {"name": "amount", "type": "string"},  # a double in the reader: no promotion from string
    ]
    payload = AvroEncoder(registry, "transactions-value", json.dumps(document))(
        {"transaction_id": "t1", "amount": "12.50"}
    )
    _, failures = AvroDecoder(registry, V2).decode_many([payload])
    assert [(f.index, f.kind, f.schema_id) for f in failures] == [(0, "schema_mismatch", 1)]
    assert failures[0].reason.startswith("SchemaResolutionError: ")


def test_a_record_of_another_type_is_a_foreign_schema_and_never_read_as_the_reader(
    registry: CountingRegistry,
) -> None:
    payload = AvroEncoder(registry, "model-events-value", find("ModelEvent").text)(
        {"model_version": "m", "event": "PROMOTED", "artifact_uri": "u", "metrics": {}, "time": 1}
    )
    decoder = AvroDecoder(registry, V2)
    records, failures = decoder.decode_many([payload, payload])
    assert records == [None, None]
    assert [(f.kind, f.reason) for f in failures] == [
        (
            "foreign_schema",
            "schema id 1: its records are io.streamsentinel.ModelEvent, not "
            "io.streamsentinel.Transaction; only io.streamsentinel.Transaction records are "
            "read from this topic",
        )
    ] * 2


def test_decode_raises_a_decode_error_with_the_kind(registry: CountingRegistry) -> None:
    with pytest.raises(DecodeError) as error:
        AvroDecoder(registry, V2).decode(b"\x00\x00\x00\x00\x07abc")
    assert (error.value.kind, error.value.schema_id, str(error.value)) == (
        "unknown_schema_id",
        7,
        "schema id 7 is not in the registry",
    )
    assert isinstance(error.value, SerializationError)
    with pytest.raises(DecodeError, match="unknown magic byte 5"):
        schema_id_of(b"\x05\x00\x00\x00\x01")


class UnreachableRegistry(LocalRegistryClient):
    def schema_by_id(self, schema_id: int) -> str:
        raise ServiceUnavailable("schema registry at http://127.0.0.1:1 is unreachable")


def test_an_unreachable_registry_raises_because_the_records_are_not_at_fault() -> None:
    decoder = AvroDecoder(UnreachableRegistry.in_memory(), V2)
    with pytest.raises(ServiceUnavailable):
        decoder.decode_many([b"\x00\x00\x00\x00\x01\x02"])


def test_decoding_schema_drops_only_time_logical_types() -> None:
    schema = {
        "type": "record",
        "name": "R",
        "fields": [
            {"name": "t", "type": {"type": "long", "logicalType": "timestamp-millis"}},
            {"name": "o", "type": ["null", {"type": "long", "logicalType": "timestamp-micros"}]},
            {"name": "u", "type": {"type": "string", "logicalType": "uuid"}},
        ],
    }
    assert decoding_schema(schema) == {
        "type": "record",
        "name": "R",
        "fields": [
            {"name": "t", "type": {"type": "long"}},
            {"name": "o", "type": ["null", {"type": "long"}]},
            {"name": "u", "type": {"type": "string", "logicalType": "uuid"}},
        ],
    }
    assert schema["fields"][0]["type"]["logicalType"] == "timestamp-millis"  # not modified


def test_serde_uses_prefixed_subjects_and_the_newest_schema(registry: CountingRegistry) -> None:
    serde = Serde(registry, Topics("t7-"))
    payload = serde.encoder("transactions")(transaction())
    assert registry.subjects() == ["t7-transactions-value"]
    assert registry.get_version("t7-transactions-value") == RegisteredSchema(
        "t7-transactions-value", 1, schema_id_of(payload), registry.schema_by_id(1)
    )
    assert serde.decoder("transactions").decode(payload) == transaction()
    assert serde.encoder("transactions") is serde.encoder("transactions")


def test_json_topics_carry_plain_json(registry: CountingRegistry) -> None:
    serde = Serde(registry, json_topics=["transactions"])
    encoder, decoder = serde.encoder("transactions"), serde.decoder("transactions")
    assert isinstance(encoder, JsonEncoder) and isinstance(decoder, JsonDecoder)
    payload = encoder(transaction())
    assert json.loads(payload) == transaction()
    assert decoder.decode(payload) == transaction()
    assert registry.subjects() == []
    assert isinstance(serde.encoder("fraud-scores"), AvroEncoder)


class ProtobufRegistry(LocalRegistryClient):
    def schema_by_id(self, schema_id: int) -> str:
        return 'syntax = "proto3"; message Payment { string id = 1; }'


def test_a_writer_schema_that_is_not_avro_is_a_failure_not_a_crash() -> None:
    _, failures = AvroDecoder(ProtobufRegistry.in_memory(), V2).decode_many(
        [b"\x00\x00\x00\x00\x05\x02", b"\x00\x00\x00\x00\x05\x02"]
    )
    assert [(f.index, f.kind, f.schema_id) for f in failures] == [
        (0, "unreadable_schema", 5),
        (1, "unreadable_schema", 5),
    ]
    assert failures[0].reason.startswith("schema id 5 is not Avro: JSONDecodeError: ")
