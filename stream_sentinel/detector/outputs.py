"""The detector's output records as Avro dicts: a FraudScore per transaction, a FraudAlert per
risky one (dead letters: :mod:`stream_sentinel.stream.deadletters`). Pure: the records are encoded
in :mod:`.output_writer`."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from stream_sentinel.config import AlertSettings
from stream_sentinel.detector.scorer import Scored
from stream_sentinel.domain import RiskLevel
from stream_sentinel.logic.decisions import DECISIONS

#: alert ids are uuid5(ALERT_NAMESPACE, transaction_id): a replay can never mint a second alert.
ALERT_NAMESPACE = uuid.UUID("6f1c1f1e-6a0b-4d7e-9a55-5e17ce5e0001")
LEVEL_NAMES = [level.name for level in RiskLevel]
DECISION_NAMES = [d.value for d in DECISIONS]


def alert_id(transaction_id: str) -> str:
    return str(uuid.uuid5(ALERT_NAMESPACE, transaction_id))


def fraud_score(
    tx: Mapping[str, Any],
    scored: Scored,
    row: int,
    reasons: Sequence[str],
    produced_time: int,
    decided_time: int,
) -> dict[str, Any]:
    """The FraudScore of one row as an Avro dict (the detector writes the same record with
    :class:`~stream_sentinel.wire.scorewire.FraudScoreWriter`; alerts reuse this dict)."""
    outcome = scored.outcome
    return {
        "transaction_id": tx["transaction_id"],
        "user_id": tx["user_id"],
        "merchant_id": tx.get("merchant_id"),
        "amount": float(tx["amount"]),
        "event_time": tx["timestamp"],
        "produced_time": produced_time,
        "decided_time": decided_time,
        "score": float(outcome.scores[row]),
        "risk_level": LEVEL_NAMES[outcome.levels[row]],
        "decision": DECISION_NAMES[outcome.decisions[row]],
        "model_version": deciding_version(scored, row),
        "reasons": list(reasons),
        "contributions": [
            {"feature": name, "value": value} for name, value in scored.contributions.get(row, [])
        ],
        **experiment_fields(scored, row),
    }


def experiment_fields(scored: Scored, row: int) -> dict[str, Any]:
    """The experiment and arm of one row's records (shadow mode: the champion, arm 0)."""
    split = scored.split
    if split is not None:
        return {"experiment_id": scored.experiment, "arm": int(split.arms[row])}
    running = scored.experiment is not None
    return {"experiment_id": scored.experiment, "arm": 0 if running else None}


def deciding_version(scored: Scored, row: int) -> str | None:
    """The version of the model that decided ``row`` (None: rules only)."""
    split = scored.split
    return scored.model_version if split is None else split.versions[int(split.arms[row])]


@dataclass(frozen=True, slots=True)
class Decider:
    """Rows of a batch decided by one model, with the record fields they share: what the fast
    writers encode once per group instead of once per row."""

    rows: list[int] | None  # None: every row of the batch
    model_version: str | None
    experiment_id: str | None
    arm: int | None
    shadow_model_version: str | None  # the model that scored beside the deciding one


def deciders(scored: Scored) -> list[Decider]:
    """One group for a batch decided by one model (outside an experiment, or in shadow mode);
    one per arm for a split batch, each holding its rows in order."""
    split = scored.split
    if split is None:
        shadow, running = scored.shadow, scored.experiment is not None
        version = shadow.version if shadow is not None else None
        return [
            Decider(None, scored.model_version, scored.experiment, 0 if running else None, version)
        ]
    return [
        Decider(
            np.flatnonzero(split.arms == arm).tolist(),
            split.versions[arm],
            scored.experiment,
            arm,
            split.versions[1 - arm],
        )
        for arm in (0, 1)
    ]


def beside(scored: Scored) -> tuple[np.ndarray, np.ndarray] | None:
    """Each row's score and RiskLevel index by the model beside the deciding one (shadow mode:
    the challenger; split mode: the other arm's model), or None when no model scored beside."""
    if scored.split is not None:
        return scored.split.other_scores, scored.split.other_levels
    if scored.shadow is not None:
        return scored.shadow.scores, scored.shadow.levels
    return None


def fraud_alert(score: Mapping[str, Any], alerts: AlertSettings, alert_time: int) -> dict[str, Any]:
    severity = RiskLevel[score["risk_level"]]
    return {
        "alert_id": alert_id(score["transaction_id"]),
        "transaction_id": score["transaction_id"],
        "user_id": score["user_id"],
        "merchant_id": score["merchant_id"],
        "amount": score["amount"],
        "score": score["score"],
        "severity": score["risk_level"],
        "reasons": score["reasons"],
        "contributions": score["contributions"],
        "recommended_actions": [a.value for a in alerts.policy.get(severity, [])],
        "event_time": score["event_time"],
        "produced_time": score["produced_time"],
        "alert_time": alert_time,
    }
