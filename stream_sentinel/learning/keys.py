"""Key patterns of the learning plane: the model registry (DB3) and the feedback store (DB2).

Nothing here carries a TTL: the registry is small and must never be evicted (DESIGN section 5).
"""

from __future__ import annotations

from stream_sentinel.state.base import Namespace

MODELS = Namespace.MODELS
FEEDBACK = Namespace.FEEDBACK

# -- the model registry (DB3) ------------------------------------------------------------------
MODEL_INDEX = "models"  # sorted set: version -> created time (epoch ms)
REGISTERED = "models:registered"  # hash: version -> 1 (the guard that makes register atomic)
ALIASES = "aliases"  # hash: alias -> version
ALIAS_SEQ = "aliases:seq"  # hash: alias -> number of its moves (the guard of every move)
ALIAS_MOVES = "aliases:moves"  # list, newest first: every AliasMove as JSON


def model(version: str) -> str:
    """One version's metadata (ModelVersion as JSON)."""
    return f"model:{version}"


def chunk(sha256: str) -> str:
    """One artifact chunk, addressed by its own sha256 (shared by versions with equal bytes)."""
    return f"chunk:{sha256}"


# -- the feedback store (DB2) ------------------------------------------------------------------
LABEL_DAYS = "labels:days"  # sorted set: "YYYY-MM-DD" -> epoch day (the days with labels)
LABEL_CONFLICTS = "labels:conflicts"  # hash: "{SOURCE_A}>{SOURCE_B}" -> count


def labels(transaction_id: str) -> str:
    """Every source's label for one transaction (hash: source -> label JSON)."""
    return f"labels:{transaction_id}"


def label_day(day: str) -> str:
    """One day's counters (hash: "{SOURCE}:{LABEL}" and "delay:{SOURCE}:{bucket}" -> count)."""
    return f"labels:day:{day}"


LABEL_EFFECTIVE = "labels:effective"  # hash: label -> transactions whose effective label it is
