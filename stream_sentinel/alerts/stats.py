"""`alerts stats`: what every alert processor did, from the counters they keep in Redis.

One round trip: the action counters, the SLA counters, the case queue depths and the control
sets. Control counts are of flags in force now (an expired member the sweeper has not removed
yet does not count, as the detector would not honour it either).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from stream_sentinel.alerts.sla import Attainment, read_attainment
from stream_sentinel.config import AlertSettings
from stream_sentinel.domain import RiskLevel
from stream_sentinel.state import keys
from stream_sentinel.state.base import Batch, StateStore

NS = keys.PIPELINE
TIERS = (RiskLevel.CRITICAL, RiskLevel.HIGH, RiskLevel.MEDIUM, RiskLevel.LOW)
CONTROL_NAMES = {keys.BLOCKED: "blocked", keys.STEP_UP: "step_up", keys.WATCH: "watched"}


@dataclass
class AlertStats:
    alerts: dict[str, int] = field(default_factory=dict)  # by the alerts' own severity
    actions: dict[str, dict[str, int]] = field(default_factory=dict)  # tier -> action -> count
    escalated: dict[str, int] = field(default_factory=dict)  # by the tier escalated to
    resolved: dict[str, int] = field(default_factory=dict)  # by label
    operator: dict[str, int] = field(default_factory=dict)  # operator actions
    sla: list[Attainment] = field(default_factory=list)
    queues: dict[str, int] = field(default_factory=dict)  # open cases per tier
    control: dict[str, int] = field(default_factory=dict)  # flags in force

    def to_json(self) -> dict[str, Any]:
        return {
            "alerts": self.alerts,
            "actions": self.actions,
            "escalated": self.escalated,
            "resolved": self.resolved,
            "operator_actions": self.operator,
            "sla": {
                s.tier.name: {
                    "target_ms": s.target_ms,
                    "actions": s.actions,
                    "missed": s.missed,
                    "attainment": s.attainment,
                    "mean_ms": s.mean_ms,
                    "p95_bound_ms": s.quantile_bound_ms(0.95),
                }
                for s in self.sla
            },
            "queues": self.queues,
            "control": self.control,
        }


def read_stats(store: StateStore, settings: AlertSettings, now_ms: int) -> AlertStats:
    """Everything `alerts stats` shows, in one round trip."""
    batch = Batch().hgetall(NS, keys.ALERT_COUNTS).hgetall(NS, keys.ALERT_SLA)
    for tier in TIERS:
        batch.zcard(NS, keys.case_queue(tier.name))
    for set_key in CONTROL_NAMES:
        batch.zcard(NS, set_key)
        batch.zrangebyscore(NS, set_key, float("-inf"), now_ms)
    counts, sla_fields, *rest = store.execute(batch)
    stats = _from_counts({name: int(value) for name, value in counts.items()})
    stats.sla = read_attainment(sla_fields, {t: settings.sla_ms[t] for t in TIERS})
    stats.queues = {t.name: int(n) for t, n in zip(TIERS, rest[: len(TIERS)], strict=True)}
    controls = rest[len(TIERS) :]
    for i, name in enumerate(CONTROL_NAMES.values()):
        members, expired = controls[2 * i], controls[2 * i + 1]
        stats.control[name] = int(members) - len(expired)
    return stats


def _from_counts(counts: dict[str, int]) -> AlertStats:
    stats = AlertStats()
    actions: dict[str, dict[str, int]] = defaultdict(dict)
    for name, count in sorted(counts.items()):
        kind, _, rest = name.partition(":")
        if kind == "alerts":
            stats.alerts[rest] = count
        elif kind == "escalated":
            stats.escalated[rest] = count
        elif kind == "resolved":
            stats.resolved[rest] = count
        elif kind == "operator":
            stats.operator[rest] = count
        elif kind in RiskLevel.__members__:
            actions[kind][rest] = count
    stats.actions = {t.name: actions[t.name] for t in TIERS if t.name in actions}
    return stats
