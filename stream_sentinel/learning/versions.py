"""What the registry knows about a model version: a plain, JSON-round-tripping record.

The version id is a content hash of the artifact (``m-`` and 12 hex digits of its sha256), so
the same model registered twice is the same version. The feature set is hashed from the ordered
feature names and their encoding: two models with equal hashes read the same matrix.

>>> fs = FeatureSet.of("live", ("amount", "velocity_1h"))
>>> fs.hash == FeatureSet.of("renamed", ("amount", "velocity_1h")).hash, len(fs.hash)
(True, 16)
>>> version_id(b"tree\\n")
'm-f27e01fe7624'
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

from stream_sentinel.logic.feature_set import ENCODING, feature_set_hash

CreatedBy = Literal["train", "learn", "import", "backtest"]
CREATORS: tuple[CreatedBy, ...] = ("train", "learn", "import", "backtest")
KINDS = ("lightgbm", "river-logreg")
#: How a kind's artifact is serialised (never pickle; see docs/learning.md).
FORMATS = {"lightgbm": "lightgbm-text", "river-logreg": "river-logreg-json"}


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def version_id(artifact: bytes) -> str:
    """The version of an artifact: its content hash (as `train` has always named models)."""
    return "m-" + sha256_hex(artifact)[:12]


@dataclass(frozen=True, slots=True)
class FeatureSet:
    """The ordered feature names a model reads, their encoding, and a hash of both."""

    name: str
    features: tuple[str, ...]
    encoding: str = ENCODING
    hash: str = ""

    @classmethod
    def of(cls, name: str, features: tuple[str, ...], encoding: str = ENCODING) -> FeatureSet:
        return cls(name, tuple(features), encoding, feature_set_hash(features, encoding))


@dataclass(frozen=True, slots=True)
class TrainingWindow:
    """Event-time span of the training rows and of the validation rows, in epoch ms."""

    start_ms: int
    end_ms: int
    validation_start_ms: int
    validation_end_ms: int
    rows: int
    frauds: int
    label_delay_ms: int


@dataclass(frozen=True, slots=True)
class ArtifactRef:
    """Where an artifact's bytes are: content-addressed chunks, each with its own sha256."""

    sha256: str
    size: int
    format: str
    chunk_size: int
    chunks: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ModelVersion:
    """One registered model: lineage, training facts, validation metrics, its artifact."""

    version: str
    kind: str
    feature_set: FeatureSet
    window: TrainingWindow
    params: Mapping[str, Any]
    metrics: Mapping[str, Any]
    bands: Mapping[str, float]
    artifact: ArtifactRef
    created_ms: int
    created_by: CreatedBy
    parent: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["feature_set"]["features"] = list(self.feature_set.features)
        data["artifact"]["chunks"] = list(self.artifact.chunks)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ModelVersion:
        fs, art = data["feature_set"], data["artifact"]
        return cls(
            **{k: data[k] for k in ("version", "kind", "params", "metrics", "bands")},
            feature_set=FeatureSet(fs["name"], tuple(fs["features"]), fs["encoding"], fs["hash"]),
            window=TrainingWindow(**data["window"]),
            artifact=replace(ArtifactRef(**art), chunks=tuple(art["chunks"])),
            created_ms=int(data["created_ms"]),
            created_by=data["created_by"],
            parent=data.get("parent"),
            tags=dict(data.get("tags") or {}),
        )

    def encode(self) -> bytes:
        return json.dumps(self.to_json(), sort_keys=True, separators=(",", ":")).encode()

    @classmethod
    def decode(cls, blob: bytes) -> ModelVersion:
        return cls.from_json(json.loads(blob))


@dataclass(frozen=True, slots=True)
class ModelDraft:
    """A version before registration: everything but its id, artifact reference and time."""

    kind: str
    feature_set: FeatureSet
    window: TrainingWindow
    params: Mapping[str, Any]
    metrics: Mapping[str, Any]
    bands: Mapping[str, float]
    created_by: CreatedBy
    parent: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)

    def complete(self, version: str, artifact: ArtifactRef, created_ms: int) -> ModelVersion:
        return ModelVersion(
            version,
            self.kind,
            self.feature_set,
            self.window,
            self.params,
            self.metrics,
            self.bands,
            artifact,
            created_ms,
            self.created_by,
            self.parent,
            self.tags,
        )

    @classmethod
    def of(cls, version: ModelVersion, **changes: Any) -> ModelDraft:
        """The draft a registered version was made from, with ``changes`` (for import)."""
        fields = {name: getattr(version, name) for name in cls.__dataclass_fields__}
        return cls(**{**fields, **changes})
