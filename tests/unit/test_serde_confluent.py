"""Byte-level interoperability with confluent-kafka's own AvroSerializer/AvroDeserializer.

Both sides use in-memory registries (Confluent's ``mock://`` and ours) holding the same schema
under the same id; the integration tier repeats this through the real service and Kafka.
"""

from __future__ import annotations

import datetime
from typing import Any

from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from stream_sentinel.registry_server.local_client import LocalRegistryClient
from stream_sentinel.wire.schemas import find
from stream_sentinel.wire.serde import AvroDecoder, AvroEncoder

V2 = find("Transaction", 2).text
CONTEXT = SerializationContext("transactions", MessageField.VALUE)
RECORD: dict[str, Any] = {
    "transaction_id": "tx-42",
    "user_id": "user-42",
    "amount": 310.0,
    "timestamp": 1_700_000_123_456,
    "currency": "GBP",
    "merchant_id": None,
    "merchant_category": None,
    "channel": "MOBILE",
    "card_type": "CREDIT",
    "device_id": None,
    "ip_address": None,
    "latitude": 51.5,
    "longitude": -0.12,
    "merchant_latitude": None,
    "merchant_longitude": None,
    "country": "GB",
    "merchant_country": None,
    "metadata": {"risk": "low"},
}


def _registries() -> tuple[Any, LocalRegistryClient]:
    confluent = SchemaRegistryClient.new_client({"url": "mock://serde-interop"})
    ours = LocalRegistryClient.in_memory()
    assert ours.register("transactions-value", V2) == 1
    return confluent, ours


def test_confluent_serializer_output_decodes_with_our_serde() -> None:
    confluent, ours = _registries()
    payload = AvroSerializer(confluent, V2)(RECORD, CONTEXT)
    assert payload[:5] == b"\x00\x00\x00\x00\x01"
    assert AvroDecoder(ours, V2).decode(payload) == RECORD


def test_our_encoder_output_decodes_with_confluents_deserializer() -> None:
    confluent, ours = _registries()
    AvroSerializer(confluent, V2)(RECORD, CONTEXT)  # gives the schema id 1 there too
    payload = AvroEncoder(ours, "transactions-value", V2)(RECORD)
    decoded = AvroDeserializer(confluent)(payload, CONTEXT)
    assert decoded["timestamp"] == datetime.datetime(
        2023, 11, 14, 22, 15, 23, 456000, tzinfo=datetime.UTC
    )
    assert {**decoded, "timestamp": RECORD["timestamp"]} == RECORD


def test_both_sides_write_identical_bytes() -> None:
    confluent, ours = _registries()
    theirs = AvroSerializer(confluent, V2)(RECORD, CONTEXT)
    assert AvroEncoder(ours, "transactions-value", V2)(RECORD) == theirs
