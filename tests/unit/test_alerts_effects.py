"""The state effects of each action, run against the embedded store; expiry and the sweeper."""

from __future__ import annotations

from typing import Any

import pytest

from stream_sentinel.alerts import effects
from stream_sentinel.alerts.effects import AlertRecord, ControlExpiries, response_effects
from stream_sentinel.alerts.policy import plan_response
from stream_sentinel.clock import ManualClock
from stream_sentinel.config import AlertSettings
from stream_sentinel.domain import Action, FraudAlert, Label, RiskLevel
from stream_sentinel.state import keys
from stream_sentinel.state.base import Batch, StateStore
from stream_sentinel.state.memory import MemoryStateStore

pytestmark = pytest.mark.unit

NS = keys.PIPELINE
T0 = 1_700_000_000_000
SETTINGS = AlertSettings(block_period_s=60, step_up_period_s=30, watch_period_s=120)


def alert(severity: RiskLevel, alert_id: str = "a-1", alert_time: int = T0) -> FraudAlert:
    return FraudAlert(
        alert_id=alert_id,
        transaction_id=f"tx-{alert_id}",
        user_id="u1",
        merchant_id=None,
        amount=99.5,
        score=0.97,
        severity=severity,
        reasons=["impossible_travel", "card_testing"],
        contributions=[],
        recommended_actions=[],
        event_time=alert_time - 1_000,
        produced_time=alert_time - 400,
        alert_time=alert_time,
    )


def snapshot(store: StateStore) -> dict[str, Any]:
    """Every key of the pipeline namespace with its value, read by the layout's types."""
    batch = Batch()
    names = list(store.scan(NS))
    for key in names:
        if key.startswith(("control:", "cases:", "index:")):
            batch.zrangebyscore(NS, key, float("-inf"), float("inf"))
        elif key.startswith("alerts:"):
            batch.lrange(NS, key, 0, -1)
        else:
            batch.hgetall(NS, key)
    return dict(zip(names, store.execute(batch), strict=True))


def apply(store: StateStore, *severities: RiskLevel) -> ControlExpiries:
    control = ControlExpiries()
    batch = Batch()
    for i, severity in enumerate(severities):
        plan = plan_response(alert(severity, f"a-{i + 1}", T0 + i * 1_000), [], SETTINGS)
        response_effects(batch, plan, control, SETTINGS)
    store.execute(batch)
    return control


def test_a_critical_alert_blocks_opens_a_case_and_records_everything() -> None:
    store = MemoryStateStore(ManualClock(T0))
    apply(store, RiskLevel.CRITICAL)
    state = snapshot(store)
    assert state.pop("alerts:u1") == [
        b'{"alert_id":"a-1","severity":"CRITICAL","tier":"CRITICAL",'
        b'"event_time":1699999999000,"time":1700000000000}'
    ]
    record = state.pop("alert:a-1")
    assert AlertRecord.parse(record) == AlertRecord(
        alert_id="a-1",
        transaction_id="tx-a-1",
        user_id="u1",
        merchant_id=None,
        amount=99.5,
        score=0.97,
        severity=RiskLevel.CRITICAL,
        tier=RiskLevel.CRITICAL,
        reasons=["impossible_travel", "card_testing"],
        actions=["BLOCK_USER", "OPEN_CASE", "INVESTIGATE"],
        event_time=T0 - 1_000,
        alert_time=T0,
        case="open",
    )
    assert (record["investigate"], record["produced_time"]) == (b"1", b"1699999999600")
    assert state == {
        "control:blocked": [("u1", float(T0 + 60_000))],
        "cases:CRITICAL": [("a-1", float(T0))],
        "stats:alerts": {
            "alerts:CRITICAL": b"1",
            "CRITICAL:BLOCK_USER": b"1",
            "CRITICAL:OPEN_CASE": b"1",
            "CRITICAL:INVESTIGATE": b"1",
        },
    }


def test_each_tier_writes_its_own_control_set_and_queue() -> None:
    store = MemoryStateStore(ManualClock(T0))
    apply(store, RiskLevel.HIGH, RiskLevel.MEDIUM, RiskLevel.LOW)
    state = snapshot(store)
    assert state["control:step_up"] == [("u1", float(T0 + 30_000))]
    assert state["control:watch"] == [("u1", float(T0 + 1_000 + 120_000))]
    assert "control:blocked" not in state
    assert state["cases:HIGH"] == [("a-1", float(T0))]
    assert state["cases:MEDIUM"] == [("a-2", float(T0 + 1_000))]
    # MONITOR opens no case: its record goes straight to the retention index
    assert state["index:alert_records"] == [("a-3", float(T0 + 2_000))]
    assert state["alert:a-3"]["case"] == b"none"
    assert [e[13:16] for e in state["alerts:u1"]] == [b"a-3", b"a-2", b"a-1"]


def test_a_later_expiry_is_never_shortened_by_an_earlier_one() -> None:
    control = ControlExpiries({(keys.BLOCKED, "u1"): float(T0 + 500_000)})
    assert control.extend(keys.BLOCKED, "u1", T0 + 60_000) == float(T0 + 500_000)
    assert control.extend(keys.BLOCKED, "u1", T0 + 900_000) == float(T0 + 900_000)
    assert control.extend(keys.STEP_UP, "u1", T0 + 1) == float(T0 + 1)
    store = MemoryStateStore(ManualClock(T0))
    plan = plan_response(alert(RiskLevel.CRITICAL), [], SETTINGS)
    store.execute(response_effects(Batch(), plan, control, SETTINGS))
    assert snapshot(store)["control:blocked"] == [("u1", float(T0 + 900_000))]


def test_the_keyed_writes_of_an_alert_applied_twice_equal_applied_once() -> None:
    """ZADD of computed scores and HSET of the record are idempotent by themselves; the
    counters and the history list are guarded by the record (see the processor tests)."""
    once, twice = MemoryStateStore(ManualClock(T0)), MemoryStateStore(ManualClock(T0))
    plan = plan_response(alert(RiskLevel.CRITICAL), [], SETTINGS)
    keyed = {"zadd", "hset"}

    def keyed_writes() -> Batch:
        batch = response_effects(Batch(), plan, ControlExpiries(), SETTINGS)
        batch.commands = [c for c in batch.commands if c.op in keyed]
        return batch

    once.execute(keyed_writes())
    twice.execute(keyed_writes())
    twice.execute(keyed_writes())
    assert snapshot(twice) == snapshot(once)


def test_history_is_capped_newest_first_and_expires_as_history() -> None:
    settings = AlertSettings(history_cap=3, escalation_count=2, record_retention_s=3600)
    store = MemoryStateStore(ManualClock(T0))
    history: list[Any] = []
    for i in range(5):
        plan = plan_response(alert(RiskLevel.LOW, f"a-{i}", T0 + i), history, settings)
        store.execute(response_effects(Batch(), plan, ControlExpiries(), settings))
    entries = store.execute(Batch().lrange(NS, "alerts:u1", 0, -1).pttl(NS, "alerts:u1"))
    assert [e[13:16] for e in entries[0]] == [b"a-4", b"a-3", b"a-2"]
    assert entries[1] == 3_600_000


def test_lift_block_removes_the_block_and_nothing_else() -> None:
    store = MemoryStateStore(ManualClock(T0))
    apply(store, RiskLevel.CRITICAL, RiskLevel.HIGH)
    before = snapshot(store)
    store.execute(effects.lift_block("u1"))
    after = snapshot(store)
    assert "control:blocked" not in after
    assert after["control:step_up"] == before["control:step_up"]
    assert after["stats:alerts"]["operator:UNBLOCK_USER"] == b"1"


def test_close_case_leaves_the_queue_and_starts_retention() -> None:
    store = MemoryStateStore(ManualClock(T0))
    apply(store, RiskLevel.CRITICAL)
    record = AlertRecord.parse(snapshot(store)["alert:a-1"])
    store.execute(effects.close_case(record, Label.FRAUD, "card seen on a skimmer", T0 + 9_000))
    state = snapshot(store)
    assert "cases:CRITICAL" not in state
    assert state["index:alert_records"] == [("a-1", float(T0 + 9_000))]
    closed = AlertRecord.parse(state["alert:a-1"])
    assert (closed.case, closed.label, closed.note) == ("closed", "FRAUD", "card seen on a skimmer")
    assert state["stats:alerts"]["resolved:FRAUD"] == b"1"


def test_the_sweeper_ends_expired_control_and_keeps_what_is_in_force() -> None:
    clock = ManualClock(T0)
    store = MemoryStateStore(clock)
    apply(store, RiskLevel.CRITICAL, RiskLevel.HIGH, RiskLevel.MEDIUM)
    # block ends T0+60 s, step-up T0+1 s+30 s, watch T0+2 s+120 s
    result = effects.sweep(store, T0 + 60_000, SETTINGS)
    assert result.expired == {keys.BLOCKED: 1, keys.STEP_UP: 1, keys.WATCH: 0}
    state = snapshot(store)
    assert "control:blocked" not in state and "control:step_up" not in state
    assert state["control:watch"] == [("u1", float(T0 + 122_000))]
    assert effects.sweep(store, T0 + 60_000, SETTINGS).expired == {
        keys.BLOCKED: 0,
        keys.STEP_UP: 0,
        keys.WATCH: 0,
    }


def test_the_sweeper_deletes_records_past_retention_but_never_an_open_case() -> None:
    settings = AlertSettings(record_retention_s=100)
    store = MemoryStateStore(ManualClock(T0))
    control = ControlExpiries()
    for i, severity in enumerate((RiskLevel.LOW, RiskLevel.CRITICAL, RiskLevel.LOW)):
        plan = plan_response(alert(severity, f"a-{i}", T0 + i * 60_000), [], settings)
        store.execute(response_effects(Batch(), plan, control, settings))
    result = effects.sweep(store, T0 + 100_000, settings)  # only a-0 is past retention
    assert result.records_deleted == 1
    state = snapshot(store)
    assert [k for k in state if k.startswith("alert:")] == ["alert:a-1", "alert:a-2"]
    assert state["index:alert_records"] == [("a-2", float(T0 + 120_000))]
    assert effects.sweep(store, T0 + 10**9, settings).records_deleted == 1
    assert [k for k in snapshot(store) if k.startswith("alert:")] == ["alert:a-1"]
    assert Action.OPEN_CASE.value in snapshot(store)["alert:a-1"]["actions"].decode()
