"""The response policy: the severity table, escalation windows, action ids and expiries."""

from __future__ import annotations

import doctest
import uuid

import pytest

from stream_sentinel.alerts import policy
from stream_sentinel.alerts.policy import (
    HistoryEntry,
    action_id,
    operator_action_id,
    plan_response,
    recent_alert_count,
    response_tier,
)
from stream_sentinel.config import AlertSettings
from stream_sentinel.domain import Action, FraudAlert, RiskLevel

pytestmark = pytest.mark.unit

HOUR_MS = 3_600_000
T0 = 1_700_000_000_000


def alert(
    severity: RiskLevel = RiskLevel.HIGH,
    alert_id: str = "a-1",
    user_id: str = "u1",
    event_time: int = T0,
    alert_time: int = T0 + 500,
) -> FraudAlert:
    return FraudAlert(
        alert_id=alert_id,
        transaction_id=f"tx-{alert_id}",
        user_id=user_id,
        merchant_id="m1",
        amount=250.0,
        score=0.9,
        severity=severity,
        reasons=["card_testing"],
        contributions=[],
        recommended_actions=[],
        event_time=event_time,
        produced_time=alert_time - 100,
        alert_time=alert_time,
    )


def entry(alert_id: str, event_time: int, severity: RiskLevel = RiskLevel.MEDIUM) -> HistoryEntry:
    return HistoryEntry(alert_id, severity, severity, event_time, event_time + 500)


def test_the_doctest_runs() -> None:
    assert doctest.testmod(policy).failed == 0


@pytest.mark.parametrize(
    ("severity", "actions"),
    [
        (RiskLevel.CRITICAL, [Action.BLOCK_USER, Action.OPEN_CASE, Action.INVESTIGATE]),
        (RiskLevel.HIGH, [Action.STEP_UP, Action.OPEN_CASE]),
        (RiskLevel.MEDIUM, [Action.OPEN_CASE, Action.WATCH]),
        (RiskLevel.LOW, [Action.MONITOR]),
        (RiskLevel.MINIMAL, []),
    ],
)
def test_the_default_table_maps_each_severity_to_its_actions(
    severity: RiskLevel, actions: list[Action]
) -> None:
    plan = plan_response(alert(severity), [], AlertSettings())
    assert [p.action for p in plan.actions] == actions
    assert plan.tier == severity
    assert plan.escalated is False
    assert plan.recent_alerts == 1


def test_the_table_comes_from_settings() -> None:
    settings = AlertSettings(
        policy={RiskLevel.HIGH: [Action.NOTIFY, Action.BLOCK_USER], RiskLevel.MEDIUM: []}
    )
    plan = plan_response(alert(RiskLevel.HIGH), [], settings)
    assert [p.action for p in plan.actions] == [Action.NOTIFY, Action.BLOCK_USER]
    assert plan_response(alert(RiskLevel.MEDIUM), [], settings).actions == ()
    # tiers the override leaves out keep their default actions
    low = plan_response(alert(RiskLevel.LOW), [], settings)
    assert [p.action for p in low.actions] == [Action.MONITOR]


def test_control_actions_expire_their_period_after_the_alert() -> None:
    settings = AlertSettings(block_period_s=60, step_up_period_s=30, watch_period_s=7.5)
    by_tier = {
        tier: {p.action: p.expires_time for p in plan_response(alert(tier), [], settings).actions}
        for tier in (RiskLevel.CRITICAL, RiskLevel.HIGH, RiskLevel.MEDIUM)
    }
    assert by_tier == {
        RiskLevel.CRITICAL: {
            Action.BLOCK_USER: T0 + 500 + 60_000,
            Action.OPEN_CASE: None,
            Action.INVESTIGATE: None,
        },
        RiskLevel.HIGH: {Action.STEP_UP: T0 + 500 + 30_000, Action.OPEN_CASE: None},
        RiskLevel.MEDIUM: {Action.OPEN_CASE: None, Action.WATCH: T0 + 500 + 7_500},
    }


def test_action_ids_are_uuid5_of_alert_and_action_and_stable() -> None:
    expected = str(uuid.uuid5(policy.ACTION_NAMESPACE, "a-1:BLOCK_USER"))
    assert action_id("a-1", Action.BLOCK_USER) == expected
    first = plan_response(alert(RiskLevel.CRITICAL), [], AlertSettings())
    again = plan_response(alert(RiskLevel.CRITICAL), [], AlertSettings())
    assert first == again
    ids = [p.action_id for p in first.actions]
    assert ids == [action_id("a-1", p.action) for p in first.actions]
    assert len(set(ids)) == 3
    other = plan_response(alert(RiskLevel.CRITICAL, alert_id="a-2"), [], AlertSettings())
    assert set(ids).isdisjoint(p.action_id for p in other.actions)


def test_operator_action_ids_name_the_block_they_lift() -> None:
    first = operator_action_id("u1", Action.UNBLOCK_USER, "1700000060000")
    assert first == operator_action_id("u1", Action.UNBLOCK_USER, "1700000060000")
    assert first != operator_action_id("u1", Action.UNBLOCK_USER, "1700000090000")
    assert first != operator_action_id("u2", Action.UNBLOCK_USER, "1700000060000")


def test_recent_count_includes_this_alert_and_history_within_the_window() -> None:
    history = [
        entry("h1", T0 - HOUR_MS + 1),  # inside (window is open at the far end)
        entry("h2", T0 - HOUR_MS),  # exactly one window back: outside
        entry("h3", T0 + 10_000),  # decided earlier, happened later: inside
        entry("h4", T0 - 5 * HOUR_MS),
    ]
    assert recent_alert_count(history, T0, HOUR_MS) == 3
    assert recent_alert_count([], T0, HOUR_MS) == 1


@pytest.mark.parametrize(
    ("severity", "recent", "tier"),
    [
        (RiskLevel.LOW, 2, RiskLevel.LOW),
        (RiskLevel.LOW, 3, RiskLevel.MEDIUM),
        (RiskLevel.MEDIUM, 3, RiskLevel.HIGH),
        (RiskLevel.HIGH, 4, RiskLevel.CRITICAL),
        (RiskLevel.CRITICAL, 9, RiskLevel.CRITICAL),
    ],
)
def test_escalation_raises_one_tier_from_the_configured_count(
    severity: RiskLevel, recent: int, tier: RiskLevel
) -> None:
    assert response_tier(severity, recent, AlertSettings(escalation_count=3)) == tier


def test_a_third_alert_within_the_window_is_escalated_one_tier() -> None:
    settings = AlertSettings(escalation_count=3, escalation_window_s=600)
    history = [entry("h2", T0 - 300_000), entry("h1", T0 - 599_000)]
    plan = plan_response(alert(RiskLevel.HIGH), history, settings)
    assert (plan.tier, plan.escalated, plan.recent_alerts) == (RiskLevel.CRITICAL, True, 3)
    assert [p.action for p in plan.actions] == [
        Action.BLOCK_USER,
        Action.OPEN_CASE,
        Action.INVESTIGATE,
    ]
    assert plan.reason == (
        "HIGH alert on tx-a-1 (card_testing); escalated to CRITICAL: 3 alerts within 600 s"
    )


def test_alerts_outside_the_window_do_not_escalate() -> None:
    settings = AlertSettings(escalation_count=3, escalation_window_s=600)
    history = [entry("h2", T0 - 300_000), entry("h1", T0 - 600_000)]
    plan = plan_response(alert(RiskLevel.HIGH), history, settings)
    assert (plan.tier, plan.recent_alerts) == (RiskLevel.HIGH, 2)
    assert plan.reason == "HIGH alert on tx-a-1 (card_testing)"


def test_history_entries_round_trip_and_unreadable_ones_are_skipped() -> None:
    plan = plan_response(alert(RiskLevel.MEDIUM), [], AlertSettings())
    raw = plan.history_entry().encode()
    assert raw == (
        b'{"alert_id":"a-1","severity":"MEDIUM","tier":"MEDIUM",'
        b'"event_time":1700000000000,"time":1700000000500}'
    )
    assert HistoryEntry.decode(raw) == plan.history_entry()
    assert HistoryEntry.decode(b"a-1|HIGH|1") is None
    assert HistoryEntry.decode(b'{"alert_id":"x","severity":"SEVERE"}') is None


def test_escalation_count_cannot_exceed_the_history_cap() -> None:
    with pytest.raises(ValueError, match="cannot exceed history_cap"):
        AlertSettings(escalation_count=60, history_cap=50)
