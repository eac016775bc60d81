"""The online model's candidate at a retrain: a snapshot of what it has learned, its bands, and
its scores on the validation window.

The snapshot is the stored state (:mod:`.online`), frozen. Its validation scores are
prequential: each validation row's score is the one the model gave it just before learning it
(the standard evaluation of an online learner: the model never saw a row's label when it
scored it), or, for a validation row the model never learned, the snapshot's own score. Bands
are chosen as for the batch candidate: on the snapshot's scores of the pending rows (the latest
traffic), else of the training part's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from stream_sentinel.domain import RiskLevel
from stream_sentinel.learning.learner.online import OnlineLearning
from stream_sentinel.learning.learner.trainingset import Part, TrainingSet
from stream_sentinel.learning.versions import version_id
from stream_sentinel.logic.features import FEATURES
from stream_sentinel.scoring.model import choose_bands
from stream_sentinel.scoring.online_artifact import OnlineArtifact


@dataclass(frozen=True, slots=True)
class OnlineCandidate:
    artifact: OnlineArtifact
    validation_scores: np.ndarray  # one per row of the expanded validation part
    extra: Mapping[str, Any]  # what the scorecard adds: where bands and scores came from


def online_candidate(
    online: OnlineLearning,
    found: TrainingSet,
    validation: Part,
    band_rates: Mapping[RiskLevel, float],
    trigger: str,
    min_rows: int,
    min_frauds: int,
) -> OnlineCandidate | str:
    """The candidate, or why there is none (a reason for ``skipped: ...``)."""
    held = online.load()
    rows, frauds = held.counts.get("rows", 0), held.counts.get("frauds", 0)
    if held.position is None or rows < min_rows or frauds < min_frauds:
        return (
            f"the online model has learned {rows} rows, {frauds} frauds (need >= {min_rows} "
            f"rows and >= {min_frauds} frauds)"
        )
    coefficients = held.model.coefficients()
    source = found.pending if found.pending.rows else found.train.expanded()
    bands = choose_bands(coefficients.predict(source.features), band_rates)
    prequential = online.prequential(list(validation.transactions), validation.event_time.tolist())
    snapshot = coefficients.predict(validation.features)
    scores = np.array(
        [s if s is not None else snapshot[i] for i, s in enumerate(prequential)], dtype=np.float64
    )
    learned_before = sum(s is not None for s in prequential)
    metadata = {
        "params": dict(held.model.params),
        "window": _window(held.counts, held.position.cursor_ms, validation),
        "source": f"learn ({trigger}, online)",
    }
    version = version_id(held.model.to_bytes())
    artifact = OnlineArtifact(version, held.model, FEATURES, bands, metadata)
    extra = {
        "bands_chosen_on": {
            "part": "pending" if found.pending.rows else "training",
            "rows": source.rows,
        },
        "validation_scores": {
            "prequential": learned_before,
            "snapshot": len(prequential) - learned_before,
        },
    }
    return OnlineCandidate(artifact, scores, extra)


def _window(counts: Mapping[str, int], cursor_ms: int, validation: Part) -> dict[str, int]:
    """The event-time span learned (first row to the cursor) and the validation rows'."""
    return {
        "start_ms": int(counts.get("first_ms", 0)),
        "end_ms": cursor_ms,
        "validation_start_ms": int(validation.event_time[0]) if validation.rows else 0,
        "validation_end_ms": int(validation.event_time[-1]) if validation.rows else 0,
        "rows": int(counts.get("rows", 0)),
        "frauds": int(counts.get("frauds", 0)),
    }
