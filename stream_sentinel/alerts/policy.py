"""Severity -> actions: the table in settings, escalation by the user's recent alerts, expiries.

Pure: an alert and the user's alert history in, a :class:`ResponsePlan` out. Everything in a plan
derives from the alert itself (ids, times), so deciding the same alert twice gives the same plan,
byte for byte.

>>> from stream_sentinel.config import AlertSettings
>>> from stream_sentinel.domain import FraudAlert
>>> alert = FraudAlert("a1", "tx1", "u1", None, 900.0, 0.97, RiskLevel.CRITICAL,
...     ["impossible_travel"], [], [], 1_000, 1_010, 1_020)
>>> plan = plan_response(alert, [], AlertSettings())
>>> [(p.action.value, p.expires_time) for p in plan.actions]
[('BLOCK_USER', 86401020), ('OPEN_CASE', None), ('INVESTIGATE', None)]
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from stream_sentinel.config import AlertSettings
from stream_sentinel.domain import Action, FraudAlert, RiskLevel

#: action_id = uuid5(ACTION_NAMESPACE, "{alert_id}:{action}"): one alert, one action, one id.
ACTION_NAMESPACE = uuid.UUID("6f1c1f1e-6a0b-4d7e-9a55-5e17ce5e0002")
#: Actions that set a control flag the detector reads, and their period setting.
CONTROL_PERIODS = {
    Action.BLOCK_USER: "block_period_s",
    Action.STEP_UP: "step_up_period_s",
    Action.WATCH: "watch_period_s",
}
#: Actions that open (or flag) a case on the tier's queue.
CASE_ACTIONS = frozenset({Action.OPEN_CASE, Action.INVESTIGATE})


def action_id(alert_id: str, action: Action) -> str:
    """The id of ``action`` taken in response to ``alert_id`` (the same on every replay)."""
    return str(uuid.uuid5(ACTION_NAMESPACE, f"{alert_id}:{action.value}"))


def operator_action_id(user_id: str, action: Action, reference: str) -> str:
    """The id of an operator's action on a user, e.g. lifting the block that ends at ``reference``
    (running the same command twice on the same block names the same action)."""
    return str(uuid.uuid5(ACTION_NAMESPACE, f"operator:{user_id}:{action.value}:{reference}"))


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One alert in ``alerts:{user_id}``: the seed's capped list, newest first."""

    alert_id: str
    severity: RiskLevel
    tier: RiskLevel
    event_time: int
    alert_time: int

    def encode(self) -> bytes:
        return json.dumps(
            {
                "alert_id": self.alert_id,
                "severity": self.severity.name,
                "tier": self.tier.name,
                "event_time": self.event_time,
                "time": self.alert_time,
            },
            separators=(",", ":"),
        ).encode()

    @classmethod
    def decode(cls, raw: bytes) -> HistoryEntry | None:
        """The entry, or None for one this version cannot read (it then does not count)."""
        try:
            data = json.loads(raw)
            return cls(
                data["alert_id"],
                RiskLevel[data["severity"]],
                RiskLevel[data.get("tier", data["severity"])],
                int(data["event_time"]),
                int(data["time"]),
            )
        except (ValueError, KeyError, TypeError):
            return None


@dataclass(frozen=True, slots=True)
class PlannedAction:
    action_id: str
    action: Action
    expires_time: int | None  # epoch ms, for the control actions


@dataclass(frozen=True, slots=True)
class ResponsePlan:
    """What to do about one alert."""

    alert: FraudAlert
    tier: RiskLevel  # the severity acted on: the alert's, or one above when escalated
    recent_alerts: int  # the user's alerts in the escalation window, this one included
    actions: tuple[PlannedAction, ...]
    reason: str

    @property
    def escalated(self) -> bool:
        return self.tier != self.alert.severity

    @property
    def opens_case(self) -> bool:
        return any(p.action in CASE_ACTIONS for p in self.actions)

    def history_entry(self) -> HistoryEntry:
        alert = self.alert
        return HistoryEntry(
            alert.alert_id, alert.severity, self.tier, alert.event_time, alert.alert_time
        )


def recent_alert_count(history: Sequence[HistoryEntry], event_time: int, window_ms: int) -> int:
    """The user's alerts whose event time lies within the window of ``event_time``, plus this one.

    Symmetric, so alerts decided out of event-time order still count each other.
    """
    return 1 + sum(1 for entry in history if abs(entry.event_time - event_time) < window_ms)


def response_tier(severity: RiskLevel, recent: int, settings: AlertSettings) -> RiskLevel:
    """The alert's severity, one tier higher when the user had enough alerts in the window."""
    if recent >= settings.escalation_count and severity < RiskLevel.CRITICAL:
        return RiskLevel(severity + 1)
    return severity


def expires_time(action: Action, alert_time: int, settings: AlertSettings) -> int | None:
    """When a control action ends: the period after the alert (None: not a control action)."""
    period = CONTROL_PERIODS.get(action)
    if period is None:
        return None
    return alert_time + round(getattr(settings, period) * 1000)


def plan_response(
    alert: FraudAlert, history: Sequence[HistoryEntry], settings: AlertSettings
) -> ResponsePlan:
    """The actions for ``alert`` given the user's earlier alerts (newest first)."""
    window_ms = round(settings.escalation_window_s * 1000)
    recent = recent_alert_count(history, alert.event_time, window_ms)
    tier = response_tier(alert.severity, recent, settings)
    actions = tuple(
        _planned(alert, action, settings) for action in dict.fromkeys(settings.policy.get(tier, []))
    )
    return ResponsePlan(alert, tier, recent, actions, _reason(alert, tier, recent, settings))


def _planned(alert: FraudAlert, action: Action, settings: AlertSettings) -> PlannedAction:
    expiry = expires_time(action, alert.alert_time, settings)
    return PlannedAction(action_id(alert.alert_id, action), action, expiry)


def _reason(alert: FraudAlert, tier: RiskLevel, recent: int, settings: AlertSettings) -> str:
    fired = ", ".join(alert.reasons) or "model score"
    text = f"{alert.severity.name} alert on {alert.transaction_id} ({fired})"
    if tier != alert.severity:
        text += (
            f"; escalated to {tier.name}: {recent} alerts within {settings.escalation_window_s:g} s"
        )
    return text
