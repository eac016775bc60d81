"""Case queues by tier with each case's age and SLA state, read through the alert desk."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from stream_sentinel.alerts.effects import AlertRecord
from stream_sentinel.alerts.operator import CASE_TIERS, AlertDesk
from stream_sentinel.alerts.stats import read_stats
from stream_sentinel.console.sources import ConsoleSources
from stream_sentinel.state import keys
from stream_sentinel.state.base import Batch

MINUTE_MS = 60_000


@dataclass(frozen=True, slots=True)
class CaseRow:
    record: AlertRecord
    age_ms: int
    sla_ms: int

    @property
    def over_sla(self) -> bool:
        return self.age_ms > self.sla_ms

    def as_json(self) -> dict[str, Any]:
        r = self.record
        return {
            "alert_id": r.alert_id,
            "tier": r.tier.name,
            "user_id": r.user_id,
            "transaction_id": r.transaction_id,
            "amount": r.amount,
            "score": r.score,
            "reasons": r.reasons,
            "alert_time": r.alert_time,
            "age_ms": self.age_ms,
            "sla_ms": self.sla_ms,
            "over_sla": self.over_sla,
        }


def case_rows(
    sources: ConsoleSources, sla_minutes: dict[str, int], limit: int
) -> dict[str, list[CaseRow]]:
    """Open cases per tier, oldest first, at most ``limit`` per tier."""
    desk: AlertDesk = sources.desk()
    now = sources.clock.now_ms()
    rows = {}
    for tier in CASE_TIERS:
        sla = sla_minutes.get(tier.name, 24 * 60) * MINUTE_MS
        rows[tier.name] = [
            CaseRow(record, max(now - record.alert_time, 0), sla)
            for record in desk.queue(tier, limit)
        ]
    return rows


def queue_depths(sources: ConsoleSources) -> dict[str, int]:
    stats = read_stats(sources.state, sources.settings.alerts, sources.clock.now_ms())
    return stats.queues


def control_state(sources: ConsoleSources, user_id: str) -> dict[str, int]:
    """The user's control flags in force now: set name -> expiry (epoch ms)."""
    batch = Batch()
    for set_key in keys.CONTROL_SETS:
        batch.zscore(keys.PIPELINE, set_key, user_id)
    now = sources.clock.now_ms()
    found = {}
    for set_key, expiry in zip(keys.CONTROL_SETS, sources.state.execute(batch), strict=True):
        if expiry is not None and expiry > now:
            found[set_key.split(":", 1)[1]] = int(expiry)
    return found
