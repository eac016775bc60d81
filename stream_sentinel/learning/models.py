"""Between scoring's model artifacts and the registry: register a trained model, load one back.

Every kind is stored in a safe format of its own, never pickle: a LightGBM artifact as
LightGBM's text format (exactly what ``Booster.model_to_string`` wrote), an online model
(``river-logreg``) as its JSON state (:mod:`stream_sentinel.scoring.online`). Bands and the
feature list live in the version record; the bytes' sha256 is the version id. A version of a
kind this code cannot serve is refused with a :class:`ModelError` naming the kinds it serves.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import lightgbm as lgb

from stream_sentinel.errors import ArtifactCorrupt, ModelError
from stream_sentinel.learning.aliases import CHAMPION
from stream_sentinel.learning.registry import ModelRegistry
from stream_sentinel.learning.versions import (
    CreatedBy,
    FeatureSet,
    ModelDraft,
    ModelVersion,
    TrainingWindow,
)
from stream_sentinel.logic.decisions import Bands
from stream_sentinel.logic.feature_set import LIVE
from stream_sentinel.scoring.model import ModelArtifact
from stream_sentinel.scoring.online import OnlineLogReg
from stream_sentinel.scoring.online_artifact import OnlineArtifact
from stream_sentinel.scoring.serving import ServingModel

#: The name of the live feature set (logic/features.py FEATURES).
LIVE_FEATURES = LIVE


def draft_of(
    model: ServingModel,
    label_delay_ms: int,
    created_by: CreatedBy = "train",
    parent: str | None = None,
    tags: Mapping[str, str] | None = None,
) -> tuple[ModelDraft, bytes]:
    """The registry draft and artifact bytes of a trained model of either kind."""
    meta = model.metadata
    report: dict[str, Any] = meta.get("report", {})
    window = {k: int(v) for k, v in meta.get("window", {}).items()}
    draft = ModelDraft(
        kind=model.kind,
        feature_set=FeatureSet.of(LIVE_FEATURES, model.features),
        window=TrainingWindow(**_window_defaults(window), label_delay_ms=label_delay_ms),
        params=_params(model),
        metrics=metrics_of(report, model.bands.to_json()),
        bands=model.bands.to_json(),
        created_by=created_by,
        parent=parent,
        tags={**({"source": str(meta["source"])} if meta.get("source") else {}), **(tags or {})},
    )
    return draft, model.artifact_bytes()


def _params(model: ServingModel) -> dict[str, Any]:
    params = dict(model.metadata.get("params", {}))
    if model.kind == "lightgbm":
        params["rounds"] = model.metadata.get("rounds")
    return params


def _window_defaults(window: dict[str, int]) -> dict[str, int]:
    names = ("start_ms", "end_ms", "validation_start_ms", "validation_end_ms", "rows", "frauds")
    return {name: window.get(name, 0) for name in names}


def metrics_of(report: Mapping[str, Any], bands: Mapping[str, float]) -> dict[str, Any]:
    """ROC AUC, average precision, and alert rate, precision and recall at each band."""
    by_threshold = {round(t, 12): band for band, t in bands.items()}
    at_bands = {
        by_threshold[round(row["threshold"], 12)]: {k: float(row[k]) for k in sorted(row)}
        for row in report.get("thresholds", [])
        if round(row["threshold"], 12) in by_threshold
    }
    return {
        "roc_auc": float(report.get("roc_auc", 0.0)),
        "average_precision": float(report.get("average_precision", 0.0)),
        "bands": at_bands,
    }


def artifact_of(version: ModelVersion, data: bytes) -> ServingModel:
    """The scoring artifact of verified bytes (raises ModelError for another feature set or a
    kind this code does not serve)."""
    if version.kind == "river-logreg":
        return _online_of(version, data)
    if version.kind != "lightgbm":
        raise ModelError(
            f"model {version.version} is of kind {version.kind!r}, which this version of "
            f"Stream-Sentinel cannot serve (it serves {', '.join(SERVED_KINDS)})"
        )
    try:
        booster = lgb.Booster(model_str=data.decode())
    except (UnicodeDecodeError, lgb.basic.LightGBMError) as exc:
        raise ArtifactCorrupt(f"model {version.version} is not a LightGBM model: {exc}") from exc
    metadata = {"registry": version.to_json()}
    return ModelArtifact(
        version.version,
        booster,
        version.feature_set.features,
        Bands.from_json(version.bands),
        metadata,
    )


#: The kinds :func:`artifact_of` loads.
SERVED_KINDS = ("lightgbm", "river-logreg")


def _online_of(version: ModelVersion, data: bytes) -> OnlineArtifact:
    try:
        model = OnlineLogReg.from_bytes(data)
    except ModelError as exc:
        raise ArtifactCorrupt(
            f"model {version.version} is not a river-logreg state: {exc}"
        ) from exc
    return OnlineArtifact(
        version.version,
        model,
        version.feature_set.features,
        Bands.from_json(version.bands),
        {"registry": version.to_json()},
    )


def load_model(registry: ModelRegistry, name: str) -> ServingModel:
    """The model a version id, prefix or alias names, its bytes verified before loading."""
    version = registry.get(registry.resolve(name))
    return artifact_of(version, registry.artifact(version))


def champion_model(registry: ModelRegistry, alias: str = CHAMPION) -> ServingModel | None:
    """What the detectors should score with: the alias's version, or None when it is unset."""
    current = registry.aliases().get(alias)
    return None if current is None else load_model(registry, current)
