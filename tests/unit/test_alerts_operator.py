"""The analyst's desk and `alerts stats` over the embedded backends."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from stream_sentinel.alerts.operator import AlertDesk, iso_ms
from stream_sentinel.alerts.policy import operator_action_id
from stream_sentinel.alerts.stats import read_stats
from stream_sentinel.config import load_settings
from stream_sentinel.domain import Action, Feedback, FeedbackSource, Label, RiskLevel, UserAction
from stream_sentinel.errors import UsageError
from stream_sentinel.wire import records
from tests.unit.test_alerts_processor import T0, Rig, make_alert, make_rig, snapshot

pytestmark = pytest.mark.unit


@pytest.fixture
def desk_rig() -> Iterator[tuple[Rig, AlertDesk]]:
    rig = make_rig(load_settings("test", environ={}).with_overrides(alerts={"block_period_s": 60}))
    rig.publish(
        make_alert("m-1", RiskLevel.MEDIUM, user_id="u3"),
        make_alert("c-1", RiskLevel.CRITICAL, user_id="u1"),
        make_alert("h-1", RiskLevel.HIGH, user_id="u2"),
        make_alert("l-1", RiskLevel.LOW, user_id="u4"),
    )
    rig.drain(rig.worker())
    yield rig, AlertDesk(rig.settings, rig.backends, rig.serde, rig.clock)
    for worker in rig.workers:
        worker.close()


def test_the_queue_lists_open_cases_highest_tier_first(desk_rig: tuple[Rig, AlertDesk]) -> None:
    _, desk = desk_rig
    cases = desk.queue()
    assert [(c.alert_id, c.tier, c.user_id, c.case) for c in cases] == [
        ("c-1", RiskLevel.CRITICAL, "u1", "open"),
        ("h-1", RiskLevel.HIGH, "u2", "open"),
        ("m-1", RiskLevel.MEDIUM, "u3", "open"),
    ]
    assert [c.alert_id for c in desk.queue(RiskLevel.HIGH)] == ["h-1"]
    assert [c.alert_id for c in desk.queue(limit=2)] == ["c-1", "h-1"]
    assert desk.queue(RiskLevel.LOW) == []


def test_resolve_publishes_analyst_feedback_and_closes_the_case(
    desk_rig: tuple[Rig, AlertDesk],
) -> None:
    rig, desk = desk_rig
    rig.clock.set(T0 + 30_000)
    outcome = desk.resolve("c-1", Label.FRAUD, "confirmed with the cardholder")
    expected = Feedback(
        transaction_id="tx-c-1",
        user_id="u1",
        merchant_id="m7",
        event_time=T0,
        label=Label.FRAUD,
        source=FeedbackSource.ANALYST,
        confidence=1.0,
        pattern=None,
        label_time=T0 + 30_000,
    )
    assert outcome.feedback == expected
    assert outcome.blocked_until == T0 + 200 + 60_000
    published = rig.read(rig.topics.fraud_feedback, "fraud-feedback")
    assert [records.from_dict(Feedback, row) for row in published] == [expected]
    assert [c.alert_id for c in desk.queue()] == ["h-1", "m-1"]
    record = desk.record("c-1")
    assert (record.case, record.label, record.note) == (
        "closed",
        "FRAUD",
        "confirmed with the cardholder",
    )


def test_resolving_twice_is_refused_and_changes_nothing(desk_rig: tuple[Rig, AlertDesk]) -> None:
    rig, desk = desk_rig
    desk.resolve("h-1", Label.LEGIT)
    before = snapshot(rig.backends.state)
    with pytest.raises(
        UsageError, match="alert h-1 was already resolved as LEGIT; nothing changed"
    ):
        desk.resolve("h-1", Label.FRAUD)
    assert snapshot(rig.backends.state) == before
    assert len(rig.read(rig.topics.fraud_feedback, "fraud-feedback")) == 1


def test_an_unknown_alert_id_is_a_clear_error_and_no_change(
    desk_rig: tuple[Rig, AlertDesk],
) -> None:
    rig, desk = desk_rig
    before = snapshot(rig.backends.state)
    with pytest.raises(UsageError, match="unknown alert id 'nope': the alert processor has no"):
        desk.resolve("nope", Label.FRAUD)
    assert snapshot(rig.backends.state) == before
    assert rig.read(rig.topics.fraud_feedback, "fraud-feedback") == []


def test_a_low_alert_without_a_case_can_still_be_labelled(desk_rig: tuple[Rig, AlertDesk]) -> None:
    _, desk = desk_rig
    outcome = desk.resolve("l-1", Label.LEGIT)
    assert (outcome.record.case, outcome.feedback.transaction_id) == ("none", "tx-l-1")
    assert desk.record("l-1").case == "none"


def test_unblock_publishes_the_action_and_lifts_the_block(
    desk_rig: tuple[Rig, AlertDesk],
) -> None:
    rig, desk = desk_rig
    outcome = desk.unblock("u1")
    blocked_until = T0 + 200 + 60_000
    assert outcome.blocked_until == blocked_until
    assert outcome.action == UserAction(
        action_id=operator_action_id("u1", Action.UNBLOCK_USER, str(blocked_until)),
        user_id="u1",
        action=Action.UNBLOCK_USER,
        alert_id=None,
        transaction_id=None,
        reason=f"operator lifted the block that ran until {iso_ms(blocked_until)}",
        created_time=T0 + 1_000,
    )
    assert rig.actions()[-1] == outcome.action
    assert "control:blocked" not in snapshot(rig.backends.state)


@pytest.mark.parametrize(
    ("user", "message"),
    [
        ("u2", "user 'u2' is not blocked; nothing changed"),  # step-up only
        ("u4", "user 'u4' is not blocked; nothing changed"),  # alerts, no control
        ("ghost", "unknown user id 'ghost': no recent alerts or control state for this user"),
    ],
)
def test_unblocking_a_user_who_is_not_blocked_changes_nothing(
    desk_rig: tuple[Rig, AlertDesk], user: str, message: str
) -> None:
    rig, desk = desk_rig
    before, actions = snapshot(rig.backends.state), rig.actions()
    with pytest.raises(UsageError, match=message):
        desk.unblock(user)
    assert snapshot(rig.backends.state) == before
    assert rig.actions() == actions


def test_an_expired_block_cannot_be_lifted_again(desk_rig: tuple[Rig, AlertDesk]) -> None:
    rig, desk = desk_rig
    rig.clock.set(T0 + 200 + 60_000)  # the block's last moment is over (active while > now)
    with pytest.raises(UsageError, match="user 'u1' is not blocked"):
        desk.unblock("u1")


def test_stats_count_alerts_actions_sla_queues_and_control(
    desk_rig: tuple[Rig, AlertDesk],
) -> None:
    rig, desk = desk_rig
    desk.resolve("m-1", Label.FRAUD)
    desk.unblock("u1")
    found = read_stats(rig.backends.state, rig.settings.alerts, rig.clock.now_ms())
    assert found.to_json() == {
        "alerts": {"CRITICAL": 1, "HIGH": 1, "LOW": 1, "MEDIUM": 1},
        "actions": {
            "CRITICAL": {"BLOCK_USER": 1, "INVESTIGATE": 1, "OPEN_CASE": 1},
            "HIGH": {"OPEN_CASE": 1, "STEP_UP": 1},
            "MEDIUM": {"OPEN_CASE": 1, "WATCH": 1},
            "LOW": {"MONITOR": 1},
        },
        "escalated": {},
        "resolved": {"FRAUD": 1},
        "operator_actions": {"UNBLOCK_USER": 1},
        "sla": {  # every action committed 900 ms after its transaction was produced
            tier: {
                "target_ms": target,
                "actions": n,
                "missed": 0,
                "attainment": 1.0,
                "mean_ms": 900.0,
                "p95_bound_ms": "1000",
            }
            for tier, target, n in (
                ("CRITICAL", 1_000, 3),
                ("HIGH", 5_000, 2),
                ("MEDIUM", 30_000, 2),
                ("LOW", 300_000, 1),
            )
        },
        "queues": {"CRITICAL": 1, "HIGH": 1, "MEDIUM": 0, "LOW": 0},
        "control": {"blocked": 0, "step_up": 1, "watched": 1},
    }
