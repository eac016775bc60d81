"""The bulk encoders write exactly what per-record writers would: CSV/JSONL read back to the
same values, and Avro is byte-identical to fastavro's, Confluent header included."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict
from typing import Any

import fastavro
import numpy as np
import pytest

from stream_sentinel.generator import SimulationConfig, Simulator, TransactionBatch
from stream_sentinel.generator.avrolayout import feedback_columns, transaction_columns
from stream_sentinel.generator.durations import format_duration, parse_duration
from stream_sentinel.generator.textlayout import COLUMNS, csv_codec, jsonl_codec
from stream_sentinel.wire.binary import varint as varint_bytes
from stream_sentinel.wire.columnar import AvroColumnCodec, _Var, varints
from stream_sentinel.wire.schemas import bundled_plan, find

SCHEMA_ID = 258  # a multi-byte id exercises the big-endian header


@pytest.fixture(scope="module")
def simulator_and_batch() -> tuple[Simulator, TransactionBatch]:
    simulator = Simulator(SimulationConfig(users=2_000, fraud_rate=0.05), seed=3)
    return simulator, simulator.next_batch(20_000)


def _plain(record: Any) -> dict[str, Any]:
    """A domain dataclass as the dict an Avro writer takes (enums by value)."""
    return {k: getattr(v, "value", v) for k, v in asdict(record).items()}


def test_csv_and_jsonl_read_back_to_the_transactions(
    simulator_and_batch: tuple[Simulator, TransactionBatch],
) -> None:
    simulator, batch = simulator_and_batch
    expected = [_plain(tx) for tx in simulator.transactions(batch)]
    csv_codec_, json_codec = csv_codec(simulator.id_prefix), jsonl_codec(simulator.id_prefix)
    rows = list(
        csv.DictReader(io.StringIO((csv_codec_.header() + csv_codec_.encode(batch)).decode()))
    )
    lines = [json.loads(line) for line in json_codec.encode(batch).decode().splitlines()]
    assert list(rows[0]) == list(COLUMNS) == list(lines[0])
    for want, row, line, pattern in zip(expected, rows, lines, batch.pattern.tolist(), strict=True):
        for name, value in want.items():
            if name == "metadata":
                assert row[name] == "" and line[name] == {}
            else:
                assert type(value)(row[name]) == value, name
                assert line[name] == value, name
        assert int(row["is_fraud"]) == line["is_fraud"] == int(pattern != 0)
        assert row["fraud_pattern"] == line["fraud_pattern"]


def test_amounts_and_coordinates_have_fixed_decimals() -> None:
    simulator = Simulator(SimulationConfig(users=50), seed=1)
    batch = simulator.next_batch(3)
    batch.amount_cents[:] = [50, 123456, 99_999_999]
    batch.latitude[:] = [-0.5, 0.00001, -89.99999]
    text = csv_codec(simulator.id_prefix).encode(batch).decode().splitlines()
    assert [line.split(",")[2] for line in text] == ["0.50", "1234.56", "999999.99"]
    assert [line.split(",")[11] for line in text] == ["-0.50000", "0.00001", "-89.99999"]


def test_avro_transactions_match_fastavro_byte_for_byte(
    simulator_and_batch: tuple[Simulator, TransactionBatch],
) -> None:
    simulator, batch = simulator_and_batch
    schema = find("Transaction").json
    codec = AvroColumnCodec(
        bundled_plan("Transaction"), transaction_columns(simulator.id_prefix), SCHEMA_ID
    )
    records = codec.records(batch, len(batch))
    parsed = fastavro.parse_schema(schema)
    for transaction, value in zip(simulator.transactions(batch), records, strict=True):
        body = io.BytesIO()
        fastavro.schemaless_writer(body, parsed, _plain(transaction))
        assert value == b"\x00\x00\x00\x01\x02" + body.getvalue()


def test_avro_feedback_matches_fastavro_with_null_patterns(
    simulator_and_batch: tuple[Simulator, TransactionBatch],
) -> None:
    simulator, _ = simulator_and_batch
    labels = simulator.labels_due(simulator.now_ms)
    assert 0 < int(labels.fraud.sum()) < len(labels)
    schema = find("Feedback").json
    codec = AvroColumnCodec(
        bundled_plan("Feedback"), feedback_columns(simulator.id_prefix), SCHEMA_ID
    )
    records = codec.records(labels, len(labels))
    parsed = fastavro.parse_schema(schema)
    for feedback, value in zip(simulator.feedback(labels), records, strict=True):
        body = io.BytesIO()
        fastavro.schemaless_writer(body, parsed, _plain(feedback))
        assert value == b"\x00\x00\x00\x01\x02" + body.getvalue()


@pytest.mark.parametrize("value", [0, 1, -1, 63, 64, -65, 300, 2**40, -(2**62), 2**63 - 1])
def test_varints_match_the_avro_encoding(value: int) -> None:
    buffer = io.BytesIO()
    fastavro.schemaless_writer(buffer, "long", value)
    assert varint_bytes(value) == buffer.getvalue()
    encoded = varints(np.array([value, 0], dtype=np.int64))
    assert isinstance(encoded, np.ndarray | _Var)
    data = encoded if isinstance(encoded, np.ndarray) else encoded.data
    assert bytes(data[0, : len(buffer.getvalue())]) == buffer.getvalue()


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90),
        ("30m", 1800),
        ("12h", 43_200),
        ("7d", 604_800),
        ("1h30m", 5400),
        ("250ms", 0.25),
        ("45", 45),
        ("1.5h", 5400),
    ],
)
def test_durations_read_as_written(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


def test_durations_print_compactly() -> None:
    assert [format_duration(s) for s in (0.25, 59, 3600, 93_784)] == ["250ms", "59s", "1h", "1d2h"]
