"""What the alert processor has done, read back from the state store it writes.

The same counters `stream-sentinel alerts stats` reads (actions by tier, escalations, SLA
samples, flags in force), plus the users blocked right now: the members of ``control:blocked``
whose expiry is still ahead — exactly what the detector enforces on their next payment.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from stream_sentinel.alerts.sla import Attainment
from stream_sentinel.alerts.stats import read_stats
from stream_sentinel.config import AlertSettings
from stream_sentinel.state import keys
from stream_sentinel.state.base import Batch, StateStore


@dataclass(frozen=True, slots=True)
class Enforcement:
    actions: dict[str, int] = field(default_factory=dict)  # action -> count, every tier
    escalated: int = 0
    in_force: dict[str, int] = field(default_factory=dict)  # blocked / step_up / watched
    blocked: tuple[tuple[str, int], ...] = ()  # (user, block ends, epoch ms), latest last
    sla: tuple[Attainment, ...] = ()


def read_enforcement(store: StateStore, settings: AlertSettings, now_ms: int) -> Enforcement:
    """Two round trips: the alert counters, then the users blocked now."""
    stats = read_stats(store, settings, now_ms)
    actions: dict[str, int] = {}
    for by_action in stats.actions.values():
        for action, count in by_action.items():
            actions[action] = actions.get(action, 0) + count
    [blocked] = store.execute(
        Batch().zrangebyscore(keys.PIPELINE, keys.BLOCKED, now_ms + 1, float("inf"))
    )
    return Enforcement(
        actions=actions,
        escalated=sum(stats.escalated.values()),
        in_force=dict(stats.control),
        blocked=tuple((str(user), int(expiry)) for user, expiry in blocked),
        sla=tuple(stats.sla),
    )
