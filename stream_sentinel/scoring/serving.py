"""What the detector serves: any model kind that scores a feature matrix and explains rows.

Both kinds satisfy it: :class:`~stream_sentinel.scoring.model.ModelArtifact` (``lightgbm``) and
:class:`~stream_sentinel.scoring.online_artifact.OnlineArtifact` (``river-logreg``). The
detector, the learner's comparison with the champion and the registry's loaders see only this.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from stream_sentinel.logic.decisions import Bands


class ServingModel(Protocol):
    """A versioned model: fraud probabilities and per-feature explanations of a matrix."""

    version: str
    features: tuple[str, ...]
    bands: Bands
    metadata: dict[str, Any]

    @property
    def kind(self) -> str:
        """The registry kind (``lightgbm``, ``river-logreg``)."""
        ...

    def predict(self, features: np.ndarray) -> np.ndarray:
        """Fraud probability for each row of the matrix (rows x features, float64)."""
        ...

    def contributions(self, features: np.ndarray, top: int) -> list[list[tuple[str, float]]]:
        """The ``top`` features by absolute contribution (log-odds), for each row."""
        ...

    def artifact_bytes(self) -> bytes:
        """The artifact as the registry stores it (the kind's safe format)."""
        ...
