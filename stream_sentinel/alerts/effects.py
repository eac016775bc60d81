"""What each action changes in the state store: write batches, and the sweeper that ends expiries.

Keys (namespace PIPELINE, see :mod:`stream_sentinel.state.keys`):

- ``control:blocked`` / ``control:step_up`` / ``control:watch``: sorted sets the detector reads,
  member = user_id, score = expiry (epoch ms); active while score > now, never a TTL. A block
  lives only here, so there is one place to end it: UNBLOCK removes the member, the sweeper
  removes expired ones, and the detector ignores an expired score even before the sweep.
- ``alerts:{user_id}``: the user's recent alerts, newest first, capped at ``history_cap``; it
  carries a TTL (``record_retention_s``), being history rather than control state.
- ``alert:{alert_id}``: the alert record (transaction, user, tier, actions, case status); its
  existence marks the alert as handled, which makes a re-delivered alert a no-op.
- ``cases:{TIER}``: open cases of a tier, member = alert_id, score = alert time (oldest first).
- ``index:alert_records``: records the sweeper deletes after ``record_retention_s`` (open cases
  are not in it; resolving one adds it).
- ``stats:alerts``: counters by severity, tier and action.

Every write is idempotent by itself where Redis allows (ZADD of a computed score, HSET of the
record); the rest (LPUSH, HINCRBY) runs only for an alert whose record did not exist, and inside
the loop's watermark-guarded batch, so it is applied once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from stream_sentinel.alerts.policy import ResponsePlan
from stream_sentinel.config import AlertSettings
from stream_sentinel.domain import Action, Label, RiskLevel
from stream_sentinel.state import keys
from stream_sentinel.state.base import Batch, StateStore

NS = keys.PIPELINE
CONTROL_SETS = {
    Action.BLOCK_USER: keys.BLOCKED,
    Action.STEP_UP: keys.STEP_UP,
    Action.WATCH: keys.WATCH,
}
OPEN, CLOSED, NO_CASE = "open", "closed", "none"
SWEEP_LIMIT = 1000


@dataclass
class ControlExpiries:
    """Each user's current control expiries (as read for the batch, then as planned).

    A new expiry never shortens a longer one already in force: the later of the two is written.
    """

    scores: dict[tuple[str, str], float | None] = field(default_factory=dict)

    def extend(self, set_key: str, user_id: str, expiry: int) -> float:
        current = self.scores.get((set_key, user_id))
        later = float(expiry) if current is None else max(current, float(expiry))
        self.scores[(set_key, user_id)] = later
        return later


@dataclass(frozen=True, slots=True)
class AlertRecord:
    """``alert:{alert_id}`` as the operator commands read it."""

    alert_id: str
    transaction_id: str
    user_id: str
    merchant_id: str | None
    amount: float
    score: float
    severity: RiskLevel
    tier: RiskLevel
    reasons: list[str]
    actions: list[str]
    event_time: int
    alert_time: int
    case: str  # open | closed | none
    label: str | None = None
    note: str | None = None

    @classmethod
    def parse(cls, fields: Mapping[str, bytes]) -> AlertRecord:
        text = {name: value.decode() for name, value in fields.items()}
        return cls(
            alert_id=text["alert_id"],
            transaction_id=text["transaction_id"],
            user_id=text["user_id"],
            merchant_id=text.get("merchant_id") or None,
            amount=float(text["amount"]),
            score=float(text["score"]),
            severity=RiskLevel[text["severity"]],
            tier=RiskLevel[text["tier"]],
            reasons=_split(text.get("reasons", "")),
            actions=_split(text.get("actions", "")),
            event_time=int(text["event_time"]),
            alert_time=int(text["alert_time"]),
            case=text.get("case", NO_CASE),
            label=text.get("label") or None,
            note=text.get("note") or None,
        )


def _split(joined: str) -> list[str]:
    return [part for part in joined.split(",") if part]


# -- the processor's effects -------------------------------------------------------------------
def response_effects(
    batch: Batch, plan: ResponsePlan, control: ControlExpiries, settings: AlertSettings
) -> Batch:
    """Append to ``batch`` every state change of one alert's plan."""
    _control(batch, plan, control)
    _history(batch, plan, settings)
    _record(batch, plan)
    _count(batch, plan)
    return batch


def _control(batch: Batch, plan: ResponsePlan, control: ControlExpiries) -> None:
    user = plan.alert.user_id
    for planned in plan.actions:
        set_key = CONTROL_SETS.get(planned.action)
        if set_key is not None and planned.expires_time is not None:
            batch.zadd(NS, set_key, {user: control.extend(set_key, user, planned.expires_time)})


def _history(batch: Batch, plan: ResponsePlan, settings: AlertSettings) -> None:
    key = keys.user_alerts(plan.alert.user_id)
    batch.lpush(NS, key, plan.history_entry().encode())
    batch.ltrim(NS, key, 0, settings.history_cap - 1)
    batch.pexpire(NS, key, round(settings.record_retention_s * 1000))


def _record(batch: Batch, plan: ResponsePlan) -> None:
    alert = plan.alert
    batch.hset(NS, keys.alert_record(alert.alert_id), record_fields(plan))
    if plan.opens_case:
        batch.zadd(NS, keys.case_queue(plan.tier.name), {alert.alert_id: alert.alert_time})
    else:
        batch.zadd(NS, keys.ALERT_RECORD_INDEX, {alert.alert_id: alert.alert_time})


def record_fields(plan: ResponsePlan) -> dict[str, str | int | float]:
    alert = plan.alert
    actions = [p.action for p in plan.actions]
    return {
        "alert_id": alert.alert_id,
        "transaction_id": alert.transaction_id,
        "user_id": alert.user_id,
        "merchant_id": alert.merchant_id or "",
        "amount": alert.amount,
        "score": alert.score,
        "severity": alert.severity.name,
        "tier": plan.tier.name,
        "reasons": ",".join(alert.reasons),
        "actions": ",".join(a.value for a in actions),
        "event_time": alert.event_time,
        "produced_time": alert.produced_time,
        "alert_time": alert.alert_time,
        "case": OPEN if plan.opens_case else NO_CASE,
        "investigate": int(Action.INVESTIGATE in actions),
    }


def _count(batch: Batch, plan: ResponsePlan) -> None:
    tier = plan.tier.name
    batch.hincrby(NS, keys.ALERT_COUNTS, f"alerts:{plan.alert.severity.name}", 1)
    for planned in plan.actions:
        batch.hincrby(NS, keys.ALERT_COUNTS, f"{tier}:{planned.action.value}", 1)
    if plan.escalated:
        batch.hincrby(NS, keys.ALERT_COUNTS, f"escalated:{tier}", 1)


# -- operator effects ----------------------------------------------------------------------------
def lift_block(user_id: str) -> Batch:
    """UNBLOCK_USER: the block's one place goes; the detector approves from its next batch."""
    return (
        Batch()
        .zrem(NS, keys.BLOCKED, user_id)
        .hincrby(NS, keys.ALERT_COUNTS, f"operator:{Action.UNBLOCK_USER.value}", 1)
    )


def close_case(record: AlertRecord, label: Label, note: str | None, now_ms: int) -> Batch:
    """An analyst's verdict: the record keeps it, the case leaves its queue, retention starts."""
    fields: dict[str, str | int | float] = {
        "label": label.value,
        "note": note or "",
        "resolved_time": now_ms,
    }
    if record.case == OPEN:
        fields["case"] = CLOSED
    return (
        Batch()
        .hset(NS, keys.alert_record(record.alert_id), fields)
        .zrem(NS, keys.case_queue(record.tier.name), record.alert_id)
        .zadd(NS, keys.ALERT_RECORD_INDEX, {record.alert_id: now_ms})
        .hincrby(NS, keys.ALERT_COUNTS, f"resolved:{label.value}", 1)
    )


# -- the sweeper ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class SweepResult:
    expired: dict[str, int]  # control set -> members removed
    records_deleted: int


def sweep(store: StateStore, now_ms: int, settings: AlertSettings) -> SweepResult:
    """End what has expired: control members whose score <= now, records past retention.

    Safe to run from every processor at once: each step removes only what is already over.
    """
    replies = store.execute(expire_controls(now_ms))
    expired = dict(zip(CONTROL_SETS.values(), (int(n) for n in replies), strict=True))
    cutoff = now_ms - round(settings.record_retention_s * 1000)
    return SweepResult(expired, _sweep_records(store, cutoff))


def expire_controls(now_ms: int) -> Batch:
    batch = Batch()
    for set_key in CONTROL_SETS.values():
        batch.zremrangebyscore(NS, set_key, float("-inf"), now_ms)
    return batch


def _sweep_records(store: StateStore, cutoff_ms: int) -> int:
    [due] = store.execute(
        Batch().zrangebyscore(NS, keys.ALERT_RECORD_INDEX, float("-inf"), cutoff_ms, SWEEP_LIMIT)
    )
    if not due:
        return 0
    ids = [alert_id for alert_id, _ in due]
    read = Batch()
    for alert_id in ids:
        read.hget(NS, keys.alert_record(alert_id), "case")
    cases = store.execute(read)
    write = Batch()
    deleted = 0
    for alert_id, case in zip(ids, cases, strict=True):
        if case != OPEN.encode():  # open cases are not indexed; never delete one regardless
            write.delete(NS, keys.alert_record(alert_id))
            deleted += 1
    write.zrem(NS, keys.ALERT_RECORD_INDEX, *ids)
    store.execute(write)
    return deleted
