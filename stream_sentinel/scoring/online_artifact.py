"""A served snapshot of the online model: its frozen coefficients, feature list, bands and
metadata, scoring whole matrices in numpy (kind ``river-logreg``, format ``river-logreg-json``).

The artifact's bytes are the model's JSON state (:mod:`~stream_sentinel.scoring.online`); the
snapshot is immutable once built (the learner keeps learning on its own copy). Scores equal
River's ``predict_proba_one`` on each row to rounding (summation order); contributions are each
feature's share of the logit: its scaled value times its weight, or, where it is missing, its
missing indicator's weight.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from stream_sentinel.errors import ModelError
from stream_sentinel.logic.decisions import Bands
from stream_sentinel.logic.features import FEATURES
from stream_sentinel.scoring.online import OnlineLogReg

KIND = "river-logreg"


@dataclass
class OnlineArtifact:
    version: str
    model: OnlineLogReg
    features: tuple[str, ...]
    bands: Bands
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if tuple(self.features) != FEATURES or self.model.features != FEATURES:
            raise ModelError(
                f"model {self.version} learns features {list(self.model.features)[:3]}..., "
                "which differ from this version's feature set"
            )
        self._coefficients = self.model.coefficients()
        self._bytes = self.model.to_bytes()

    @property
    def kind(self) -> str:
        return KIND

    def predict(self, features: np.ndarray) -> np.ndarray:
        if len(features) == 0:
            return np.empty(0)
        return self._coefficients.predict(np.asarray(features, dtype=np.float64))

    def contributions(self, features: np.ndarray, top: int) -> list[list[tuple[str, float]]]:
        if len(features) == 0:
            return []
        values = self._coefficients.terms(np.asarray(features, dtype=np.float64))
        order = np.argsort(-np.abs(values), axis=1)[:, :top]
        return [
            [(self.features[j], float(values[i, j])) for j in order[i]] for i in range(len(values))
        ]

    def artifact_bytes(self) -> bytes:
        return self._bytes
