"""The columnar Transaction decoder agrees with the generic decoder, record for record."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest

from stream_sentinel.registry_server.local_client import LocalRegistryClient
from stream_sentinel.wire.schemas import find, latest_for_topic
from stream_sentinel.wire.serde import Serde
from stream_sentinel.wire.txwire import CHANNELS, compile_plan, decode_columns


def random_transactions(count: int, seed: int) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    maybe = lambda value, i, every: None if i % every == 0 else value  # noqa: E731
    return [
        {
            "transaction_id": f"tx-{i}-" + "é" * int(rng.integers(0, 90)),
            "user_id": f"4{rng.integers(10**17):017d}",
            "amount": float(rng.lognormal(3, 3)) * (-1 if i % 13 == 0 else 1),
            "timestamp": int(rng.integers(-(2**40), 2**42)),
            "currency": maybe("EUR", i, 2),
            "merchant_id": maybe(f"m{i}", i, 3),
            "merchant_category": maybe("grocery", i, 5),
            "channel": CHANNELS[i % 5],
            "card_type": ["CREDIT", "DEBIT", "PREPAID", "UNKNOWN"][i % 4],
            "device_id": maybe(f"d{i}", i, 4),
            "ip_address": maybe("10.0.0.1", i, 6),
            "latitude": maybe(float(rng.uniform(-90, 90)), i, 5),
            "longitude": maybe(float(rng.uniform(-180, 180)), i, 5),
            "merchant_latitude": maybe(float(rng.normal()), i, 7),
            "merchant_longitude": maybe(float(rng.normal()), i, 7),
            "country": maybe("DE", i, 8),
            "merchant_country": maybe("FR", i, 9),
            "metadata": {f"k{j}": "v" * j for j in range(i % 11 * 7)},  # 0 to 70 entries
        }
        for i in range(count)
    ]


def same_number(a: float, b: float | None) -> bool:
    return (b is None and math.isnan(a)) or a == b


def test_columns_equal_the_generic_decoders_records() -> None:
    serde = Serde(LocalRegistryClient.in_memory())
    encode = serde.encoder("transactions")
    records = random_transactions(2000, seed=5)
    values = [encode(r) for r in records]
    plan = compile_plan(latest_for_topic("transactions").text)
    assert plan is not None
    columns, unplanned = decode_columns(values, plan)
    # maps of more than 64 entries are left to the generic decoder
    assert unplanned.tolist() == [i for i in range(2000) if i % 11 * 7 > 64]
    assert len(columns.rows) == 2000 - len(unplanned)
    for j, row in enumerate(columns.rows.tolist()):
        r = records[row]
        assert (columns.transaction_id[j], columns.user_id[j]) == (
            r["transaction_id"],
            r["user_id"],
        )
        assert (columns.merchant_id[j], columns.device_id[j]) == (r["merchant_id"], r["device_id"])
        assert columns.amount[j] == r["amount"] and columns.timestamp[j] == r["timestamp"]
        assert CHANNELS[columns.channel[j]] == r["channel"]
        for name in ("latitude", "longitude", "merchant_latitude", "merchant_longitude"):
            assert same_number(getattr(columns, name)[j], r[name]), name


def test_corrupt_and_foreign_records_are_left_to_the_generic_decoder() -> None:
    serde = Serde(LocalRegistryClient.in_memory())
    good = serde.encoder("transactions")(random_transactions(3, seed=1)[1])
    values = [
        good,
        good[:-4],  # truncated
        good + b"\x00\x00",  # trailing bytes
        good[:5] + b"\xff" * 12,  # a varint that never ends
        good[:5] + b"\x03" + good[6:],  # a negative string length
        good[:5] + b"\x04\xc3\x28" + good[8:],  # not UTF-8 (same length as "tx")
        good[:5] + b"\xfe\xff\xff\xff\xff\xff\xff\xff\xff\x01" + good[6:],  # length 2^63-1
        good,
    ]
    plan = compile_plan(latest_for_topic("transactions").text)
    assert plan is not None
    columns, unplanned = decode_columns(values, plan)
    assert columns.rows.tolist() == [0, 7]
    assert unplanned.tolist() == [1, 2, 3, 4, 5, 6]


def test_plans_exist_for_both_transaction_versions_and_not_for_other_records() -> None:
    v1 = find("Transaction", 1)
    plan = compile_plan(v1.text)
    assert plan is not None and [s.name for s in plan][-1] == "country"
    assert compile_plan(latest_for_topic("fraud-scores").text) is None  # arrays: not walked
    assert compile_plan(json.dumps({"type": "record", "name": "X", "fields": []})) is None
    assert compile_plan("not json") is None
    # a field we read, with another type than ours: the generic decoder resolves it
    document = json.loads(latest_for_topic("transactions").text)
    for field in document["fields"]:
        if field["name"] in ("merchant_id", "channel"):
            field["type"] = "string"
    assert compile_plan(json.dumps(document)) is None


@pytest.mark.parametrize("count", [1, 7])
def test_v1_records_decode_with_defaults_for_newer_fields(count: int) -> None:
    serde = Serde(LocalRegistryClient.in_memory())
    v1 = find("Transaction", 1)
    from stream_sentinel.wire.serde import AvroEncoder

    encoder = AvroEncoder(serde.registry, "transactions-value", v1.text)
    old = []
    for r in random_transactions(count, seed=2):
        old.append({k: v for k, v in r.items() if k not in ("merchant_country", "metadata")})
    plan = compile_plan(v1.text)
    assert plan is not None
    columns, unplanned = decode_columns([encoder(r) for r in old], plan)
    assert unplanned.tolist() == []
    assert columns.user_id == [r["user_id"] for r in old]


def test_metadata_in_several_blocks_and_sized_blocks_is_walked_like_the_generic_decoder() -> None:
    from stream_sentinel.wire.serde import AvroDecoder, frame
    from tests.hostile import avro_long, avro_string, v2_body

    registry = LocalRegistryClient.in_memory()
    schema_id = registry.register("transactions-value", latest_for_topic("transactions").text)
    entries = avro_string("a") + avro_string("1") + avro_string("b") + avro_string("22")
    body = v2_body("t-blocks", "u-9")[:-1]  # without the empty map's single 0
    body += avro_long(-2) + avro_long(len(entries)) + entries  # a sized block of two
    body += avro_long(1) + avro_string("c") + avro_string("333") + avro_long(0)
    value = frame(schema_id, body)
    plan = compile_plan(latest_for_topic("transactions").text)
    assert plan is not None
    columns, unplanned = decode_columns([value, value[:-2]], plan)
    assert (columns.rows.tolist(), unplanned.tolist()) == ([0], [1])
    assert (columns.transaction_id, columns.user_id) == (["t-blocks"], ["u-9"])
    record = AvroDecoder(registry).decode(value)
    assert record["metadata"] == {"a": "1", "b": "22", "c": "333"}


@pytest.mark.parametrize(
    "blocks",
    [[-(2**63), 0], [-(2**63), 0, 2**62], [2**62], [65], [30, 30, 5], [-2, 1000]],
    ids=["int64-min", "int64-min-then-huge", "2^62", "65", "65-in-blocks", "sized-lie"],
)
def test_a_metadata_map_with_a_hostile_block_count_is_left_to_the_generic_decoder(
    blocks: list[int],
) -> None:
    from stream_sentinel.wire.serde import frame
    from tests.hostile import avro_long, v2_body

    entry = b"\x02k\x02v"
    body = v2_body("t-map", "u-1")[:-1]
    for count in blocks:
        body += avro_long(count) + entry * min(abs(count), 70)
    value = frame(1, body + b"\x00")
    plan = compile_plan(latest_for_topic("transactions").text)
    assert plan is not None
    # bounded: at most MAP_ENTRIES entries are ever walked, whatever the counts claim
    columns, unplanned = decode_columns([value], plan)
    assert (columns.rows.tolist(), unplanned.tolist()) == ([], [0])
