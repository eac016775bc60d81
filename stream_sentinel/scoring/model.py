"""A model artifact: a LightGBM booster, its feature list, its score bands and metadata.

Stored as text (LightGBM's own model format plus JSON metadata, never pickle), so artifacts are
safe to load and readable in review. Scoring is batched: one ``predict`` per batch, and
per-feature contributions (LightGBM's SHAP values, ``pred_contrib``) only for the rows that
need an explanation.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np

from stream_sentinel.errors import ModelError
from stream_sentinel.logic.decisions import Bands
from stream_sentinel.logic.features import COLUMN, FEATURES

MODEL_FILE = "model.txt"
META_FILE = "model.json"
KIND = "lightgbm"


@dataclass
class ModelArtifact:
    version: str
    booster: lgb.Booster
    features: tuple[str, ...]
    bands: Bands
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._columns = feature_columns(self.version, tuple(self.features))
        if self.booster.num_feature() != len(self.features):
            raise ModelError(
                f"model {self.version} names {len(self.features)} features but its trees read "
                f"{self.booster.num_feature()}; the artifact is inconsistent: retrain it "
                "(stream-sentinel train)"
            )

    def _selected(self, features: np.ndarray) -> np.ndarray:
        return features if self._columns is None else features[:, self._columns]

    @property
    def kind(self) -> str:
        return KIND

    def artifact_bytes(self) -> bytes:
        """LightGBM's text format, byte for byte what ``model_to_string`` writes."""
        return self.booster.model_to_string().encode()

    def predict(self, features: np.ndarray) -> np.ndarray:
        """Fraud probability for each row."""
        if len(features) == 0:
            return np.empty(0)
        rows = self._selected(features)
        return np.asarray(self.booster.predict(rows, num_threads=1), dtype=np.float64)

    def contributions(self, features: np.ndarray, top: int) -> list[list[tuple[str, float]]]:
        """The ``top`` features by absolute contribution (log-odds), for each row."""
        if len(features) == 0:
            return []
        rows = self._selected(features)
        raw = np.asarray(self.booster.predict(rows, pred_contrib=True, num_threads=1))
        values = raw[:, : len(self.features)]  # the last column is the bias term
        order = np.argsort(-np.abs(values), axis=1)[:, :top]
        return [
            [(self.features[j], float(values[i, j])) for j in order[i]] for i in range(len(values))
        ]

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        (directory / MODEL_FILE).write_text(self.booster.model_to_string())
        meta = {
            "version": self.version,
            "features": list(self.features),
            "bands": self.bands.to_json(),
            **self.metadata,
        }
        (directory / META_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True))

    @classmethod
    def load(cls, directory: Path) -> ModelArtifact:
        try:
            meta = json.loads((directory / META_FILE).read_text())
            booster = lgb.Booster(model_str=(directory / MODEL_FILE).read_text())
        except (OSError, ValueError, lgb.basic.LightGBMError) as exc:
            raise ModelError(f"cannot load the model in {directory}: {exc}") from exc
        extra = {k: v for k, v in meta.items() if k not in ("version", "features", "bands")}
        bands = Bands.from_json(meta["bands"])
        return cls(meta["version"], booster, tuple(meta["features"]), bands, extra)


def feature_columns(version: str, names: tuple[str, ...]) -> np.ndarray | None:
    """Where a model's features are in this version's feature matrix (None: all, in order).

    A model trained on an earlier feature set whose features this version still computes keeps
    scoring (its columns are picked by name), so an upgrade that adds features does not leave
    the detectors on rules only; one that reads a feature no longer computed is refused."""
    if names == FEATURES:
        return None
    missing = [name for name in names if name not in COLUMN]
    if missing:
        raise ModelError(
            f"model {version} reads {len(missing)} feature(s) this version does not compute "
            f"({', '.join(missing[:5])}); retrain it (stream-sentinel train)"
        )
    return np.array([COLUMN[name] for name in names], dtype=np.intp)


def choose_bands(scores: np.ndarray, target_rates: Mapping[Any, float]) -> Bands:
    """Thresholds so that each level (and everything above it) flags its target share of traffic."""
    thresholds = {}
    for level, rate in target_rates.items():
        thresholds[level] = float(np.quantile(scores, 1.0 - rate)) if len(scores) else 1.0
    return Bands(thresholds)


def threshold_table(
    scores: np.ndarray, labels: np.ndarray, thresholds: Sequence[float]
) -> list[dict[str, float]]:
    """For each threshold: the share of traffic flagged, precision and recall."""
    rows = []
    positives = max(int(labels.sum()), 1)
    for t in thresholds:
        flagged = scores >= t
        hits = int((flagged & (labels == 1)).sum())
        rows.append(
            {
                "threshold": float(t),
                "alert_rate": float(flagged.mean()) if len(scores) else 0.0,
                "precision": hits / max(int(flagged.sum()), 1),
                "recall": hits / positives,
            }
        )
    return rows
