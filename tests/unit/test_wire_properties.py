"""Property search: the fast codecs agree with the generic ones on any value the schema allows
(any unicode, any double, nulls anywhere, metadata maps around the columnar walk's limit)."""

from __future__ import annotations

import math
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from stream_sentinel.registry_server.local_client import LocalRegistryClient
from stream_sentinel.wire.schemas import bundled_plan
from stream_sentinel.wire.scorewire import FraudScoreWriter
from stream_sentinel.wire.serde import Serde
from stream_sentinel.wire.txwire import MAP_ENTRIES, compile_plan, decode_columns

SERDE = Serde(LocalRegistryClient.in_memory())
TRANSACTION = bundled_plan("Transaction")
SCORE = bundled_plan("FraudScore")
TRANSACTION_TEXT = SERDE.schema("transactions").text
DETERMINISTIC = settings(max_examples=60, deadline=None, derandomize=True)

texts = st.text(max_size=40)
doubles = st.floats(allow_nan=True, allow_infinity=True)
longs = st.integers(-(2**63), 2**63 - 1)


def optional(values: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | values


def transaction_records() -> st.SearchStrategy[dict[str, Any]]:
    """Any Transaction v2 record, field by field from its plan."""
    by_kind: dict[str, st.SearchStrategy[Any]] = {"string": texts, "double": doubles, "long": longs}
    fields: dict[str, st.SearchStrategy[Any]] = {}
    for field in TRANSACTION.fields:
        kind = field.value_type
        if kind.kind == "enum":
            values = st.sampled_from(kind.symbols)
        elif kind.kind == "map":
            values = st.dictionaries(texts, texts, max_size=MAP_ENTRIES + 2)
        else:
            values = by_kind[kind.kind]
        fields[field.name] = optional(values) if field.nullable else values
    return st.fixed_dictionaries(fields)


def same(a: Any, b: Any) -> bool:
    return (isinstance(a, float) and math.isnan(a) and b is None) or a == b or (a != a and b != b)


@DETERMINISTIC
@given(st.lists(transaction_records(), min_size=1, max_size=8))
def test_the_columnar_decoder_reads_what_the_generic_decoder_reads(
    records: list[dict[str, Any]],
) -> None:
    encode, decode = SERDE.encoder("transactions"), SERDE.decoder("transactions")
    values = [encode(r) for r in records]
    plan = compile_plan(TRANSACTION_TEXT)
    assert plan is not None
    columns, unplanned = decode_columns(values, plan)
    assert unplanned.tolist() == [i for i, r in enumerate(records) if len(r["metadata"]) > 64]
    for j, row in enumerate(columns.rows.tolist()):
        generic = decode.decode(values[row])
        for name in ("transaction_id", "user_id", "merchant_id", "device_id", "currency"):
            column = getattr(columns, name) if hasattr(columns, name) else columns.field(name)
            assert column[j] == generic[name], name
        for name in ("amount", "latitude", "merchant_longitude"):
            assert same(float(getattr(columns, name)[j]), generic[name]), name
        assert columns.timestamp[j] == generic["timestamp"]
        assert columns.field("card_type")[j] == generic["card_type"]


contributions = st.lists(st.tuples(texts, doubles), max_size=5)


@DETERMINISTIC
@given(
    st.tuples(texts, texts, optional(texts), doubles, longs, doubles),
    st.tuples(st.integers(0, 4), st.integers(0, 3), longs, longs, optional(texts)),
    st.lists(texts, max_size=4),
    contributions,
    st.tuples(optional(texts), optional(st.integers(0, 2**31 - 1))),
)
def test_the_fraud_score_writer_writes_what_the_generic_encoder_writes(
    head: tuple[Any, ...],
    tail: tuple[Any, ...],
    reasons: list[str],
    pairs: list[Any],
    experiment: tuple[str | None, int | None],
) -> None:
    generic = SERDE.encoder("fraud-scores")
    writer = FraudScoreWriter(generic.schema_id)  # type: ignore[attr-defined]
    transaction_id, user_id, merchant_id, amount, event_time, score = head
    level, decision, produced, decided, model = tail
    fast = writer.write(
        *head,
        level,
        decision,
        produced,
        writer.encoded("decided_time", decided),
        writer.encoded("model_version", model),
        reasons,
        pairs,
        writer.encoded("experiment_id", experiment[0]),
        writer.encoded("arm", experiment[1]),
    )
    record = {
        "transaction_id": transaction_id,
        "user_id": user_id,
        "merchant_id": merchant_id,
        "amount": amount,
        "event_time": event_time,
        "produced_time": produced,
        "decided_time": decided,
        "score": score,
        "risk_level": SCORE.field("risk_level").value_type.symbols[level],
        "decision": SCORE.field("decision").value_type.symbols[decision],
        "model_version": model,
        "reasons": reasons,
        "contributions": [{"feature": f, "value": v} for f, v in pairs],
        "experiment_id": experiment[0],
        "arm": experiment[1],
    }
    assert fast == generic(record)
