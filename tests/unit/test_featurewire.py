"""The fast feature-log writer is byte for byte the generic encoder."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from stream_sentinel.detector.feature_log import NO_EXPERIMENT
from stream_sentinel.domain import RiskLevel
from stream_sentinel.errors import SchemaError
from stream_sentinel.logic.decisions import DECISIONS
from stream_sentinel.logic.feature_set import LIVE, LIVE_HASH
from stream_sentinel.logic.features import FEATURES
from stream_sentinel.registry_server.local_client import LocalRegistryClient
from stream_sentinel.wire.avro import AvroEncoder
from stream_sentinel.wire.binary import optional_string, string, varint
from stream_sentinel.wire.featurewire import DecisionFeaturesWriter
from stream_sentinel.wire.schemas.catalog import find
from stream_sentinel.wire.schemas.plan import compile_plan
from stream_sentinel.wire.serde import Serde

DECISION_SYMBOLS = [d.value for d in DECISIONS]


def matrix(rows: int, width: int = len(FEATURES)) -> np.ndarray:
    """Feature values of every kind the detector writes: NaN (missing), zeros, negatives,
    huge and tiny magnitudes, infinities."""
    rng = np.random.default_rng(11)
    values = rng.normal(size=(rows, width)) * 10.0 ** rng.integers(-300, 300, size=(rows, width))
    values[rng.random((rows, width)) < 0.2] = np.nan
    values[rng.random((rows, width)) < 0.1] = 0.0
    values[:3, 0] = [np.inf, -np.inf, -0.0]
    return values


def cases(features: np.ndarray) -> list[dict[str, Any]]:
    rng = np.random.default_rng(5)
    return [
        {
            "transaction_id": f"tx-{i}-" + "ü" * int(rng.integers(0, 70)),
            "user_id": f"用户-{rng.integers(10**18):018d}",
            "event_time": int(rng.integers(0, 2**42)),
            "decided_time": 1_767_225_600_123,
            "model_version": None if i % 3 == 0 else "m-abcdef123456",
            "feature_set": LIVE,
            "feature_set_hash": LIVE_HASH,
            "features": features[i].tolist(),
            "score": float(rng.random()),
            "risk_level": RiskLevel(int(rng.integers(5))).name,
            "decision": DECISION_SYMBOLS[int(rng.integers(4))],
            "input_partition": int(rng.integers(0, 12)),
            "input_offset": int(rng.integers(0, 2**40)),
            **(shadowed(rng) if i % 2 else NO_EXPERIMENT),
        }
        for i in range(len(features))
    ]


def shadowed(rng: np.random.Generator) -> dict[str, Any]:
    """A row decided while a shadow experiment ran (arm 0: the champion decided)."""
    return {
        "experiment_id": "exp-20261204-2210",
        "arm": 0,
        "shadow_model_version": "m-0123456789ab",
        "shadow_score": float(rng.random()),
        "shadow_risk_level": RiskLevel(int(rng.integers(5))).name,
    }


def write(writer: DecisionFeaturesWriter, record: dict[str, Any], vector: bytes) -> bytes:
    shadow = record["shadow_score"] is not None
    [shadow_score], [shadow_level] = writer.shadow(
        1,
        np.array([record["shadow_score"]]) if shadow else None,
        np.array([int(RiskLevel[record["shadow_risk_level"]])]) if shadow else None,
    )
    return writer.write(
        record["transaction_id"],
        record["user_id"],
        record["event_time"],
        varint(record["decided_time"]),
        optional_string(record["model_version"]),
        string(record["feature_set"]),
        string(record["feature_set_hash"]),
        vector,
        record["score"],
        int(RiskLevel[record["risk_level"]]),
        DECISION_SYMBOLS.index(record["decision"]),
        record["input_partition"],
        record["input_offset"],
        writer.encoded("experiment_id", record["experiment_id"]),
        writer.encoded("arm", record["arm"]),
        writer.encoded("shadow_model_version", record["shadow_model_version"]),
        shadow_score,
        shadow_level,
    )


@pytest.mark.parametrize("width", [len(FEATURES), 1, 70])
def test_records_are_identical_to_the_generic_encoders(width: int) -> None:
    serde = Serde(LocalRegistryClient.in_memory())
    generic = serde.encoder("decision-features")
    writer = DecisionFeaturesWriter(generic.schema_id)  # type: ignore[attr-defined]
    features = matrix(200, width)
    records = cases(features)
    vectors = writer.vectors(features)
    for record, vector in zip(records, vectors, strict=True):
        fast = write(writer, record, vector)
        assert fast == generic(record)
        decoded = serde.decoder("decision-features").decode(fast)
        assert np.array_equal(decoded.pop("features"), record["features"], equal_nan=True)
        assert decoded == {k: v for k, v in record.items() if k != "features"}


def test_a_vector_is_an_avro_array_of_little_endian_doubles() -> None:
    vectors = DecisionFeaturesWriter.vectors(np.array([[1.0, np.nan], [-2.5, 0.0]]))
    assert vectors == [
        b"\x04" + np.array([1.0, np.nan], "<f8").tobytes() + b"\x00",
        b"\x04" + np.array([-2.5, 0.0], "<f8").tobytes() + b"\x00",
    ]
    assert DecisionFeaturesWriter.vectors(np.empty((2, 0))) == [b"\x00", b"\x00"]
    assert DecisionFeaturesWriter.vectors(np.empty((0, 29))) == []


def test_a_float32_matrix_is_written_as_doubles() -> None:
    single = np.array([[0.1, 3.0]], dtype=np.float32)
    [vector] = DecisionFeaturesWriter.vectors(single)
    assert vector == b"\x04" + single.astype("<f8").tobytes() + b"\x00"


def test_a_schema_whose_features_are_not_doubles_is_refused() -> None:
    schema = {
        "type": "record",
        "name": "DecisionFeatures",
        "namespace": "io.streamsentinel",
        "fields": [{"name": "features", "type": {"type": "array", "items": "float"}}],
    }
    with pytest.raises(SchemaError, match="array of double"):
        DecisionFeaturesWriter(1, compile_plan(json.dumps(schema)))


def evolved(change: Any) -> dict[str, Any]:
    """The bundled DecisionFeatures schema, changed by ``change(fields)``."""
    schema = find("DecisionFeatures").json
    change(schema["fields"])
    return schema


def test_a_reordered_enum_is_refused() -> None:
    def reorder(fields: list[dict[str, Any]]) -> None:
        level = next(f for f in fields if f["name"] == "risk_level")
        level["type"]["symbols"] = list(reversed(level["type"]["symbols"]))

    with pytest.raises(SchemaError) as refused:
        DecisionFeaturesWriter(1, compile_plan(json.dumps(evolved(reorder))))
    assert str(refused.value) == (
        "DecisionFeatures.risk_level has the symbols ['CRITICAL', 'HIGH', 'MEDIUM', 'LOW', "
        "'MINIMAL']; the feature log writes indexes into ['MINIMAL', 'LOW', 'MEDIUM', 'HIGH', "
        "'CRITICAL']"
    )


def test_a_schema_that_drops_a_field_and_adds_one_is_written_as_the_generic_encoder_does() -> None:
    def evolve(fields: list[dict[str, Any]]) -> None:
        fields[:] = [f for f in fields if f["name"] != "feature_set_hash"]
        fields.append({"name": "region", "type": "string", "default": "eu-west"})

    schema = evolved(evolve)
    registry = LocalRegistryClient.in_memory()
    generic = AvroEncoder(registry, "decision-features-value", json.dumps(schema))
    writer = DecisionFeaturesWriter(generic.schema_id, compile_plan(json.dumps(schema)))
    features = matrix(20)
    for record, vector in zip(cases(features), writer.vectors(features), strict=True):
        expected = generic({**{k: v for k, v in record.items() if k != "feature_set_hash"}})
        assert write(writer, record, vector) == expected
        assert writer.encoded("feature_set_hash", LIVE_HASH) == b""
