"""The fast FraudScore writer is byte for byte the generic encoder."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from stream_sentinel.domain import RiskLevel
from stream_sentinel.logic.decisions import DECISIONS
from stream_sentinel.registry_server.local_client import LocalRegistryClient
from stream_sentinel.wire.schemas.catalog import find
from stream_sentinel.wire.schemas.plan import compile_plan
from stream_sentinel.wire.scorewire import (
    FraudScoreWriter,
    optional_string,
    string,
    varint,
)
from stream_sentinel.wire.serde import Serde


@pytest.mark.parametrize(
    ("value", "wire"),
    [
        (0, b"\x00"),
        (-1, b"\x01"),
        (1, b"\x02"),
        (63, b"\x7e"),
        (64, b"\x80\x01"),
        (-65, b"\x81\x01"),
    ],
)
def test_varint_is_avro_zigzag(value: int, wire: bytes) -> None:
    assert varint(value) == wire


def test_strings_are_length_prefixed_utf8() -> None:
    assert string("ab") == b"\x04ab"
    assert string("é") == b"\x04\xc3\xa9"
    assert string("x" * 64)[:2] == b"\x80\x01"
    assert optional_string(None) == b"\x00"
    assert optional_string("m") == b"\x02\x02m"


def cases() -> list[dict]:  # type: ignore[type-arg]
    rng = np.random.default_rng(3)
    out = []
    for i in range(300):
        reasons = [
            str(r)
            for r in rng.choice(
                ["velocity_burst", "user_blocked", "card_testing"],
                rng.integers(0, 3),
                replace=False,
            )
        ]
        contributions = [(f"f{j}é", float(rng.normal())) for j in range(rng.integers(0, 6))]
        out.append(
            {
                "transaction_id": f"tx-{i}-" + "ü" * int(rng.integers(0, 70)),
                "user_id": f"4{rng.integers(10**18):018d}",
                "merchant_id": None if i % 3 == 0 else f"m{i}",
                "amount": float(rng.lognormal(3, 2)),
                "event_time": int(rng.integers(0, 2**42)),
                "produced_time": int(rng.integers(-(2**40), 2**42)),
                "decided_time": 1_767_225_600_123 + i,
                "score": float(rng.random()),
                "risk_level": RiskLevel(int(rng.integers(5))).name,
                "decision": DECISIONS[int(rng.integers(4))].value,
                "model_version": None if i % 4 == 0 else "m-abcdef123456",
                "reasons": reasons,
                "contributions": [{"feature": f, "value": v} for f, v in contributions],
                # version 2: a shadow experiment running (arm 0: the champion decides) or none
                "experiment_id": "exp-20261204-2210" if i % 2 else None,
                "arm": 0 if i % 2 else None,
            }
        )
    return out


def write(writer: FraudScoreWriter, record: dict[str, Any], experiment: bytes, arm: bytes) -> bytes:
    """The fast writer's record for a decoded one (``experiment`` and ``arm`` pre-encoded)."""
    return writer.write(
        record["transaction_id"],
        record["user_id"],
        record["merchant_id"],
        record["amount"],
        record["event_time"],
        record["score"],
        int(RiskLevel[record["risk_level"]]),
        [d.value for d in DECISIONS].index(record["decision"]),
        record["produced_time"],
        varint(record["decided_time"]),
        optional_string(record["model_version"]),
        record["reasons"],
        [(c["feature"], c["value"]) for c in record["contributions"]],
        experiment,
        arm,
    )


def test_records_are_identical_to_the_generic_encoders() -> None:
    serde = Serde(LocalRegistryClient.in_memory())
    generic = serde.encoder("fraud-scores")
    writer = FraudScoreWriter(generic.schema_id)  # type: ignore[attr-defined]
    for record in cases():
        experiment = writer.encoded("experiment_id", record["experiment_id"])
        fast = write(writer, record, experiment, writer.encoded("arm", record["arm"]))
        assert fast == generic(record)
        assert serde.decoder("fraud-scores").decode(fast) == record


def test_a_version_1_schema_is_written_without_the_experiment_fields() -> None:
    """A registry that still serves FraudScore v1 gets v1 records: the experiment is left out."""
    serde = Serde(LocalRegistryClient.in_memory())
    schema_id = serde.registry.register("fraud-scores-value", find("FraudScore", 1).text)
    writer = FraudScoreWriter(schema_id, compile_plan(find("FraudScore", 1).text))
    record = cases()[1]  # one decided in an experiment: the v1 record cannot say so
    assert (writer.encoded("experiment_id", "exp-1"), writer.encoded("arm", 0)) == (b"", b"")
    fast = write(writer, record, b"", b"")
    # read with the latest schema: the fields it lacks come back as their defaults
    assert serde.decoder("fraud-scores").decode(fast) == record | {
        "experiment_id": None,
        "arm": None,
    }
    assert b"exp-" not in fast
