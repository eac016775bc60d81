"""Key patterns of the experiments store (Redis DB5). Nothing carries a TTL: an experiment's
record is its audit trail."""

from __future__ import annotations

from stream_sentinel.state.base import Namespace

NS = Namespace.EXPERIMENTS

INDEX = "experiments"  # sorted set: experiment id -> created time (epoch ms)
ACTIVE = "experiments:active"  # hash: "id" -> the running experiment's id
SEQ = "experiments:seq"  # hash: "active" -> starts and ends so far (the guard of each)
SEQ_FIELD = "active"
TRAIL_POINTS = 2000


def definition(experiment_id: str) -> str:
    """The experiment (Experiment as JSON)."""
    return f"experiment:{experiment_id}"


def history(experiment_id: str) -> str:
    """Its steps, newest first (list of Step JSON)."""
    return f"experiment:{experiment_id}:history"


def counts(experiment_id: str) -> str:
    """Its per-arm counters (hash: "{arm}:{counter}" -> number)."""
    return f"experiment:{experiment_id}:counts"


def offsets(experiment_id: str) -> str:
    """How far each input partition has been counted (hash: "{topic}:{partition}" -> next)."""
    return f"experiment:{experiment_id}:offsets"


def evidence(experiment_id: str) -> str:
    """The test's evidence after each settlement, newest first (list of Point JSON, the
    newest TRAIL_POINTS kept)."""
    return f"experiment:{experiment_id}:evidence"
