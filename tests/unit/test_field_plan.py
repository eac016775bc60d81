"""One field plan per schema, and what it buys: a field added to a schema is carried by the
generic codec, the columnar decoder, the fast writers and the dict conversion with no code
change, byte for byte the same on the fast and the generic paths."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from stream_sentinel.domain import FraudScore, Transaction
from stream_sentinel.errors import SerializationError
from stream_sentinel.generator import SimulationConfig, Simulator
from stream_sentinel.generator.avrolayout import transaction_columns
from stream_sentinel.generator.textlayout import text_renderers
from stream_sentinel.registry_server.local_client import LocalRegistryClient
from stream_sentinel.wire.columnar import AvroColumnCodec, Text
from stream_sentinel.wire.records import RecordMapping, from_dict, to_dict
from stream_sentinel.wire.schemas import (
    CATALOG,
    NO_DEFAULT,
    UnplannedSchema,
    bundled_plan,
    compile_plan,
    find,
)
from stream_sentinel.wire.scorewire import FraudScoreWriter
from stream_sentinel.wire.serde import AvroDecoder, AvroEncoder
from stream_sentinel.wire.textcodec import JsonLinesCodec, text_fields
from stream_sentinel.wire.txwire import compile_plan as columnar_walk
from stream_sentinel.wire.txwire import decode_columns
from tests.unit.test_scorewire import cases as score_cases
from tests.unit.test_serde_records import SAMPLES
from tests.unit.test_txwire import random_transactions

#: The one edit: a field added to Transaction v2 (in the middle, so every later field moves).
TERMINAL = {"name": "terminal_id", "type": ["null", "string"], "default": None}


def with_field(name: str, field: dict[str, Any], after: str) -> str:
    document = find(name).json
    names = [f["name"] for f in document["fields"]]
    document["fields"].insert(names.index(after) + 1, field)
    return json.dumps(document)


@pytest.mark.parametrize("schema", CATALOG, ids=lambda s: s.filename)
def test_the_plan_holds_every_field_in_schema_order_with_its_default(schema: Any) -> None:
    plan = compile_plan(schema.text)
    fields = schema.json["fields"]
    assert plan.name == schema.full_name
    assert plan.names == tuple(f["name"] for f in fields)
    for planned, written in zip(plan.fields, fields, strict=True):
        assert planned.default == written.get("default", NO_DEFAULT)
        nullable = isinstance(written["type"], list) and "null" in written["type"]
        assert planned.nullable is nullable


def test_the_plan_knows_types_branch_order_and_logical_types() -> None:
    plan = bundled_plan("FraudScore")
    contributions = plan.field("contributions").value_type
    assert contributions.kind == "array" and contributions.items is not None
    assert contributions.items.record is not None
    assert contributions.items.record.names == ("feature", "value")
    assert plan.field("risk_level").value_type.symbols[-1] == "CRITICAL"
    assert plan.field("event_time").value_type.logical == "timestamp-millis"
    merchant = plan.field("merchant_id")
    assert (merchant.type.null_branch, merchant.value_type.kind) == (0, "string")
    late_null = {"name": "x", "type": ["long", "null"]}
    x = compile_plan(with_field("FraudScore", late_null, "score")).field("x")
    assert (x.type.null_branch, x.value_type.kind, x.nullable) == (1, "long", True)


def test_a_schema_text_is_compiled_once() -> None:
    text = find("Transaction", 2).text
    assert compile_plan(text) is compile_plan(text) is bundled_plan("Transaction")


@pytest.mark.parametrize(
    ("schema", "why"),
    [
        ('{"type": "record", "name": "R", "fields": [{"name": "next", "type": ["null", "R"]}]}',
         "refers to itself"),
        ('{"type": "record", "name": "R", "fields": [{"name": "a", "type": "Nope"}]}',
         "unknown type 'Nope'"),
        ('"string"', "not a record schema but string"),
        ("not json", "not a schema the field plan describes"),
    ],
    ids=["recursive", "unknown-type", "not-a-record", "not-json"],
)  # fmt: skip
def test_what_the_plan_cannot_describe_is_refused_and_left_to_the_generic_codecs(
    schema: str, why: str
) -> None:
    with pytest.raises(UnplannedSchema, match=why):
        compile_plan(schema)
    assert columnar_walk(schema) is None


def test_an_added_field_travels_through_the_generic_codec_and_the_columnar_decoder() -> None:
    registry = LocalRegistryClient.in_memory()
    text = with_field("Transaction", TERMINAL, after="merchant_id")
    encode = AvroEncoder(registry, "transactions-value", text)
    records = [
        {**r, "terminal_id": None if i % 3 == 0 else f"term-{i}é", "metadata": {}}
        for i, r in enumerate(random_transactions(300, seed=9))
    ]
    values = [encode(r) for r in records]
    walk = columnar_walk(text)
    assert walk is not None and [s.name for s in walk][6] == "terminal_id"
    columns, unplanned = decode_columns(values, walk)
    assert unplanned.tolist() == []
    assert columns.field("terminal_id") == [r["terminal_id"] for r in records]
    assert columns.user_id == [r["user_id"] for r in records]
    assert columns.device_id == [r["device_id"] for r in records]  # after the new field
    assert columns.field("card_type") == [r["card_type"] for r in records]
    decoded = AvroDecoder(registry, text).decode_many(values)[0]
    assert decoded == records


def test_an_added_field_is_written_by_the_column_codec_byte_for_byte_as_the_generic_one() -> None:
    simulator = Simulator(SimulationConfig(users=200), seed=4)
    batch = simulator.next_batch(500)
    text = with_field("Transaction", TERMINAL, after="merchant_id")
    generic = AvroEncoder(LocalRegistryClient.in_memory(), "transactions-value", text)
    transactions = simulator.transactions(batch)
    # no column for it: its default (null), as the generic encoder writes a field a dict lacks
    plain = AvroColumnCodec(compile_plan(text), transaction_columns(simulator.id_prefix), 1)
    assert plain.records(batch, len(batch)) == [generic(to_dict(tx)) for tx in transactions]
    # a column for it: the generator's values, in the new field's place
    columns = transaction_columns(simulator.id_prefix) | {
        "terminal_id": Text(text_renderers(simulator.id_prefix)["device_id"])
    }
    given = AvroColumnCodec(compile_plan(text), columns, 1).records(batch, len(batch))
    expected = [generic({**to_dict(tx), "terminal_id": tx.device_id}) for tx in transactions]
    assert given == expected


def test_an_added_field_is_written_by_the_fraud_score_writer_as_its_default() -> None:
    text = with_field("FraudScore", {"name": "region", "type": "string", "default": "eu"}, "score")
    generic = AvroEncoder(LocalRegistryClient.in_memory(), "fraud-scores-value", text)
    writer = FraudScoreWriter(generic.schema_id, compile_plan(text))
    levels = ["MINIMAL", "LOW", "MEDIUM", "HIGH", "CRITICAL"]
    decisions = ["APPROVE", "CHALLENGE", "REVIEW", "DECLINE"]
    for record in score_cases()[:50]:
        fast = writer.write(
            *[record[k] for k in ("transaction_id", "user_id", "merchant_id", "amount")],
            record["event_time"],
            record["score"],
            levels.index(record["risk_level"]),
            decisions.index(record["decision"]),
            record["produced_time"],
            writer.encoded("decided_time", record["decided_time"]),
            writer.encoded("model_version", record["model_version"]),
            record["reasons"],
            [(c["feature"], c["value"]) for c in record["contributions"]],
            writer.encoded("experiment_id", record["experiment_id"]),
            writer.encoded("arm", record["arm"]),
        )
        assert fast == generic(record)


def test_an_added_field_is_converted_to_and_from_dicts_from_the_dataclass_alone() -> None:
    @dataclasses.dataclass(slots=True)
    class TerminalTransaction(Transaction):
        terminal_id: str | None = None

    plan = compile_plan(with_field("Transaction", TERMINAL, after="merchant_id"))
    mapping = RecordMapping(TerminalTransaction, plan)
    tx = TerminalTransaction("t", "u", 1.0, 2, merchant_id="m", terminal_id="term-1")
    record = mapping.to_dict(tx)
    assert list(record)[:7] == [*plan.names[:7]]
    assert record["terminal_id"] == "term-1" and record["channel"] == "OTHER"
    assert mapping.from_dict(record) == tx
    assert mapping.from_dict(to_dict(Transaction("t", "u", 1.0, 2))).terminal_id is None


def test_a_jsonl_column_without_a_renderer_prints_null_when_its_field_allows_it() -> None:
    simulator = Simulator(SimulationConfig(users=50), seed=2)
    batch = simulator.next_batch(3)
    plan = compile_plan(with_field("Transaction", TERMINAL, after="merchant_id"))
    codec = JsonLinesCodec(text_fields(plan, text_renderers(simulator.id_prefix)))
    lines = [json.loads(line) for line in codec.encode(batch).decode().splitlines()]
    assert [line["terminal_id"] for line in lines] == [None, None, None]
    assert list(lines[0])[5:7] == ["merchant_id", "terminal_id"]


def test_a_symbol_the_enum_lacks_is_a_bad_value_naming_the_enum() -> None:
    record = {**to_dict(SAMPLES["fraud-scores"]), "risk_level": "BOGUS"}
    with pytest.raises(
        SerializationError,
        match="FraudScore record has a bad value: 'BOGUS' is not a valid RiskLevel",
    ):
        from_dict(FraudScore, record)
