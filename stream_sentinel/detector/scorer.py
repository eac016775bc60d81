"""Scoring a batch: rules, the current model, decisions and explanations, all batched.

The model comes from a :class:`ModelSource`, which watches the model store's "current" pointer
and swaps models between batches (the same hook backtests and the learning plane use).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from stream_sentinel.config import Settings
from stream_sentinel.domain import RiskLevel
from stream_sentinel.errors import ModelError
from stream_sentinel.logic.decisions import DecisionPolicy, Decisions, decide
from stream_sentinel.logic.rules import (
    BEHAVIOUR_RULES,
    STEP_UP_REQUIRED,
    USER_BLOCKED,
    WATCHED_USER,
    ControlFlags,
    evaluate,
)
from stream_sentinel.scoring.model import ModelArtifact
from stream_sentinel.scoring.store import ModelStore

log = logging.getLogger(__name__)
_REASON_NAMES = (USER_BLOCKED, STEP_UP_REQUIRED, WATCHED_USER, *BEHAVIOUR_RULES)


class ModelSource:
    """The model the detector scores with; polls the store's pointer every ``poll_s`` seconds."""

    def __init__(self, store: ModelStore | None, poll_s: float = 5.0) -> None:
        self.store = store
        self.poll_s = poll_s
        self.current: ModelArtifact | None = None
        self._checked = float("-inf")

    def refresh(self) -> bool:
        """Load a newly promoted model if the pointer moved; True when the model changed."""
        if self.store is None or time.monotonic() - self._checked < self.poll_s:
            return False
        self._checked = time.monotonic()
        version = self.store.current_version()
        if version is None or (self.current is not None and self.current.version == version):
            return False
        try:
            artifact = self.store.load(version)
        except ModelError as exc:
            log.error("model %s could not be loaded, keeping the current one: %s", version, exc)
            return False
        self.swap(artifact)
        return True

    def swap(self, artifact: ModelArtifact | None) -> None:
        """Use ``artifact`` from the next batch on (None: rules only)."""
        previous = self.current.version if self.current else "rules only"
        self.current = artifact
        log.info(
            "model swapped: %s -> %s", previous, artifact.version if artifact else "rules only"
        )


@dataclass(slots=True)
class Scored:
    """Per-transaction results of one batch."""

    outcome: Decisions
    fired: np.ndarray  # [n, len(BEHAVIOUR_RULES)]
    control: ControlFlags
    model_version: str | None
    contributions: dict[int, list[tuple[str, float]]]  # row -> top features (risky rows)

    def reasons(self) -> list[Sequence[str]]:
        """For each row, what fired: control reasons first, then rules (most rows: none)."""
        control = self.control
        flags = np.column_stack([control.blocked, control.step_up, control.watched, self.fired])
        out: list[Sequence[str]] = [()] * len(flags)
        for row in np.flatnonzero(flags.any(axis=1)).tolist():
            out[row] = [_REASON_NAMES[j] for j in np.flatnonzero(flags[row]).tolist()]
        return out


def policy_of(settings: Settings) -> DecisionPolicy:
    """The decision policy of these settings (the pure logic takes no settings object)."""
    detector = settings.detector
    return DecisionPolicy(
        rule_floors=detector.rules.levels,
        decisions=detector.decisions,
        alert_level=detector.alert_level,
        watch_alert_level=settings.alerts.watch_alert_level,
    )


def score_batch(
    features: np.ndarray, control: ControlFlags, model: ModelArtifact | None, settings: Settings
) -> Scored:
    """Rules and model over the whole batch at once; explanations only for the risky rows."""
    detector = settings.detector
    fired = evaluate(features, detector.rules)
    scores = model.predict(features) if model is not None else None
    outcome = decide(scores, model.bands if model else None, fired, control, policy_of(settings))
    contributions: dict[int, list[tuple[str, float]]] = {}
    if model is not None:
        risky = np.flatnonzero(outcome.levels >= int(RiskLevel(detector.contributions_from)))
        if len(risky):
            explained = model.contributions(features[risky], detector.top_contributions)
            contributions = dict(zip(risky.tolist(), explained, strict=True))
    return Scored(outcome, fired, control, model.version if model else None, contributions)
