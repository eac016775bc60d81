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


def clock(experiment_id: str) -> str:
    """The event clock: per decision-features partition the latest event time read (hash)."""
    return f"experiment:{experiment_id}:clock"


def buckets(experiment_id: str) -> str:
    """The event-time buckets holding kept rows or labels not settled yet (sorted set)."""
    return f"experiment:{experiment_id}:buckets"


def rows(experiment_id: str, bucket: int) -> str:
    """One bucket's kept decisions (hash: transaction id -> row code; most rows: none)."""
    return f"experiment:{experiment_id}:rows:{bucket}"


def labels(experiment_id: str, bucket: int) -> str:
    """One bucket's labels (hash: transaction id -> per-source labels as JSON)."""
    return f"experiment:{experiment_id}:labels:{bucket}"


def cost(experiment_id: str) -> str:
    """Scoring cost the detectors measured (hash: "{arm}:us" and "{arm}:rows"; a sample, not
    an exact count: a batch scored again after a crash is timed again)."""
    return f"experiment:{experiment_id}:cost"


SETTLED = "settled"  # field of offsets(): the next bucket to settle (the settlement's guard)
