"""Which arm a user is in: a deterministic hash of the experiment and the user.

The split must be stable across restarts and across detector processes, and independent from
one experiment to the next (a user in the 10% arm of one experiment is not in the 10% arm of
every experiment). So the arm comes from BLAKE2b over ``experiment_id`` and ``user_id``, never
from Python's ``hash()`` (salted per process): its first 8 bytes, read as an integer and divided
by 2**64, are a uniform number in [0, 1), and the arm is the first whose cumulative share
exceeds it.

>>> arm_of("exp-1", "u1", (0.9, 0.1)) == arm_of("exp-1", "u1", (0.9, 0.1))
True
>>> unit_point("exp-1", "u1")
0.2953857372502957
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

import numpy as np

_SCALE = float(2**64)


def check_shares(shares: Sequence[float]) -> tuple[float, ...]:
    """The shares as a tuple, or a ValueError that says what is wrong with them."""
    values = tuple(float(s) for s in shares)
    if len(values) < 2:
        raise ValueError(f"an experiment needs at least two arms, got shares {list(values)}")
    if any(not 0.0 < s < 1.0 for s in values):
        raise ValueError(f"every share must be between 0 and 1 (exclusive), got {list(values)}")
    if abs(sum(values) - 1.0) > 1e-9:
        raise ValueError(f"the shares must add up to 1, got {list(values)} (sum {sum(values)})")
    return values


def unit_point(experiment_id: str, user_id: str) -> float:
    """The user's point in [0, 1) for this experiment."""
    digest = hashlib.blake2b(
        user_id.encode(), digest_size=8, key=experiment_id.encode()[:64], person=b"sentinel-ab"
    ).digest()
    return int.from_bytes(digest, "big") / _SCALE


def arm_of(experiment_id: str, user_id: str, shares: Sequence[float]) -> int:
    """The arm (0 = champion, 1 = challenger, ...) of one user."""
    point = unit_point(experiment_id, user_id)
    bounds = np.cumsum(check_shares(shares))
    return min(int(np.searchsorted(bounds, point, side="right")), len(bounds) - 1)


def arms_of(experiment_id: str, user_ids: Iterable[str], shares: Sequence[float]) -> np.ndarray:
    """The arm of each user, in order (int8)."""
    bounds = np.cumsum(check_shares(shares))
    points = np.fromiter((unit_point(experiment_id, u) for u in user_ids), dtype=np.float64)
    arms = np.searchsorted(bounds, points, side="right")
    return np.minimum(arms, len(bounds) - 1).astype(np.int8)
