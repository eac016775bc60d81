"""A fast writer of DecisionFeatures records (the feature log), straight from the batch.

One row per decision, beside its FraudScore, so this costs what :mod:`.scorewire` costs and no
more: the fields' order and encoders come from the DecisionFeatures field plan
(:mod:`.fastwriter`), and the feature vectors of a whole batch are encoded in one numpy pass
(:meth:`DecisionFeaturesWriter.vectors`): an Avro ``array<double>`` is the count as a varint,
the doubles little-endian, and a zero, which is exactly a matrix row's ``<f8`` bytes between a
fixed head and tail. A unit test holds the bytes identical to the generic encoder's.
"""

from __future__ import annotations

from typing import Any, Protocol, cast

import numpy as np

from stream_sentinel.domain import Decision, RiskLevel
from stream_sentinel.errors import SchemaError
from stream_sentinel.wire.binary import encoder_for, varint
from stream_sentinel.wire.fastwriter import compile_writer
from stream_sentinel.wire.framing import frame
from stream_sentinel.wire.schemas.plan import RecordPlan, bundled_plan

#: The DecisionFeatures fields :meth:`DecisionFeaturesWriter.write` takes, by parameter name.
ARGUMENTS = {
    "transaction_id": "transaction_id",
    "user_id": "user_id",
    "event_time": "event_time",
    "decided_time": "decided",
    "model_version": "model",
    "feature_set": "feature_set",
    "feature_set_hash": "feature_set_hash",
    "features": "vector",
    "score": "score",
    "risk_level": "level",
    "decision": "decision",
    "input_partition": "partition",
    "input_offset": "offset",
    "experiment_id": "experiment",
    "arm": "arm",
    "shadow_model_version": "shadow_model",
    "shadow_score": "shadow_score",
    "shadow_risk_level": "shadow_level",
}
#: Fields the caller passes encoded: constant for a batch, or encoded for a batch in bulk (the
#: vector, the shadow's score and level: :meth:`DecisionFeaturesWriter.shadow`).
PRE_ENCODED = frozenset(
    {
        "decided_time",
        "model_version",
        "feature_set",
        "feature_set_hash",
        "features",
        "experiment_id",
        "arm",
        "shadow_model_version",
        "shadow_score",
        "shadow_risk_level",
    }
)
_END = b"\x00"
#: The enum symbols in the order the detector's indexes follow.
ENUM_ORDER = {
    "risk_level": tuple(level.name for level in RiskLevel),
    "decision": tuple(decision.value for decision in Decision),
}


class WriteFeatures(Protocol):
    def __call__(
        self,
        transaction_id: str,
        user_id: str,
        event_time: int,
        decided: bytes,
        model: bytes,
        feature_set: bytes,
        feature_set_hash: bytes,
        vector: bytes,
        score: float,
        level: int,
        decision: int,
        partition: int,
        offset: int,
        experiment: bytes,
        arm: bytes,
        shadow_model: bytes,
        shadow_score: bytes,
        shadow_level: bytes,
    ) -> bytes:
        """One record. ``decided``, ``model``, ``feature_set``, ``feature_set_hash``,
        ``vector`` and the experiment's fields are pre-encoded; ``level`` and ``decision`` are
        enum symbol indexes."""


class DecisionFeaturesWriter:
    """Writes framed DecisionFeatures records for the schema registered under ``schema_id``
    (``plan``: the schema the id stands for; default: the bundled one)."""

    def __init__(self, schema_id: int, plan: RecordPlan | None = None) -> None:
        self.header = frame(schema_id, b"")
        self.plan = plan or bundled_plan("DecisionFeatures")
        vector = self.plan.field("features").type
        if vector.kind != "array" or vector.items is None or vector.items.kind != "double":
            raise SchemaError("the feature log writes features as an array of double")
        for name, symbols in ENUM_ORDER.items():  # the caller passes symbol indexes
            found = self.plan.field(name).type.symbols
            if found != symbols:
                raise SchemaError(
                    f"DecisionFeatures.{name} has the symbols {list(found)}; the feature log "
                    f"writes indexes into {list(symbols)}"
                )
        self._encoders = {field.name: encoder_for(field.type) for field in self.plan.fields}
        write = compile_writer(self.plan, ARGUMENTS, PRE_ENCODED, self._encoders, self.header)
        self.write = cast(WriteFeatures, write)

    def encoded(self, name: str, value: Any) -> bytes:
        """One field's bytes, for the fields given pre-encoded (none for a field the schema
        no longer has: the writer leaves it out)."""
        encode = self._encoders.get(name)
        return b"" if encode is None else encode(value)

    def shadow(
        self, rows: int, scores: np.ndarray | None, levels: np.ndarray | None
    ) -> tuple[list[bytes], list[bytes]]:
        """Each row's ``shadow_score`` and ``shadow_risk_level`` (nulls without a shadow;
        levels are RiskLevel indexes)."""
        score, level = self._encoders.get("shadow_score"), self._encoders.get("shadow_risk_level")
        if score is None or level is None:  # a schema without them: left out
            return [b""] * rows, [b""] * rows
        if scores is None or levels is None:
            return [score(None)] * rows, [level(None)] * rows
        table = [level(index) for index in range(len(RiskLevel))]
        return [score(value) for value in scores.tolist()], [table[i] for i in levels.tolist()]

    @staticmethod
    def vectors(features: np.ndarray) -> list[bytes]:
        """Each row of a ``[n, k]`` matrix as an Avro ``array<double>``, in one pass."""
        rows, width = features.shape
        if width == 0:
            return [_END] * rows
        head = np.frombuffer(varint(width), dtype=np.uint8)
        framed = np.empty((rows, len(head) + 8 * width + 1), dtype=np.uint8)
        framed[:, : len(head)] = head
        framed[:, len(head) : -1] = (
            np.ascontiguousarray(features, dtype="<f8").view(np.uint8).reshape(rows, 8 * width)
        )
        framed[:, -1] = 0
        blob, size = framed.tobytes(), framed.shape[1]
        return [blob[start : start + size] for start in range(0, rows * size, size)]
