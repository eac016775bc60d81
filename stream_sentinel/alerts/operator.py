"""What analysts do by hand: list the case queues, resolve an alert, lift a block.

Each command checks first and changes nothing when the alert or user is unknown. A change is
published to Kafka first (a ``Feedback`` on ``fraud-feedback``, an ``UNBLOCK_USER`` action on
``user-actions``) and then written to Redis, so a failure in between leaves the record of the
intent; running the command again repeats it safely (same action id for the same block, and the
learning plane keys labels by transaction).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from stream_sentinel.alerts import effects
from stream_sentinel.alerts.effects import AlertRecord
from stream_sentinel.alerts.policy import operator_action_id
from stream_sentinel.clients.backends import Backends
from stream_sentinel.clock import SYSTEM_CLOCK, Clock
from stream_sentinel.config import Settings
from stream_sentinel.domain import Action, Feedback, FeedbackSource, Label, RiskLevel, UserAction
from stream_sentinel.errors import ServiceUnavailable, UsageError
from stream_sentinel.state import keys
from stream_sentinel.state.base import Batch
from stream_sentinel.transport.base import TopicPartition
from stream_sentinel.transport.topics import FRAUD_FEEDBACK, USER_ACTIONS, Topics
from stream_sentinel.wire import records as avro
from stream_sentinel.wire.serde import Serde

NS = keys.PIPELINE
CASE_TIERS = (RiskLevel.CRITICAL, RiskLevel.HIGH, RiskLevel.MEDIUM, RiskLevel.LOW)
DELIVERY_TIMEOUT_S = 30.0


@dataclass(frozen=True, slots=True)
class Resolution:
    record: AlertRecord
    feedback: Feedback
    blocked_until: int | None  # the user's block still in force, if any


@dataclass(frozen=True, slots=True)
class Unblock:
    action: UserAction
    blocked_until: int  # the expiry of the block that was lifted


def iso_ms(epoch_ms: int) -> str:
    """``2025-01-01T12:00:00Z`` for an epoch-ms time (the commands print times this way)."""
    moment = datetime.fromtimestamp(epoch_ms / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class AlertDesk:
    """The analyst's desk over the processor's records (a Redis reader and a Kafka producer)."""

    def __init__(
        self, settings: Settings, backends: Backends, serde: Serde, clock: Clock = SYSTEM_CLOCK
    ) -> None:
        self.store = backends.state
        self.broker = backends.broker
        self.topics = Topics.from_settings(settings)
        self.serde = serde
        self.clock = clock

    # -- reading ------------------------------------------------------------------------------
    def queue(self, tier: RiskLevel | None = None, limit: int = 20) -> list[AlertRecord]:
        """Open cases, highest tier first and oldest first within a tier, at most ``limit``."""
        tiers = CASE_TIERS if tier is None else (tier,)
        listing = Batch()
        for name in (t.name for t in tiers):
            listing.zrangebyscore(NS, keys.case_queue(name), float("-inf"), float("inf"), limit)
        queued = [alert_id for found in self.store.execute(listing) for alert_id, _ in found]
        queued = queued[:limit]
        if not queued:
            return []
        fetch = Batch()
        for alert_id in queued:
            fetch.hgetall(NS, keys.alert_record(alert_id))
        return [AlertRecord.parse(fields) for fields in self.store.execute(fetch) if fields]

    def record(self, alert_id: str) -> AlertRecord:
        """The alert's record; UsageError naming what to do when the id is unknown."""
        [fields] = self.store.execute(Batch().hgetall(NS, keys.alert_record(alert_id)))
        if not fields:
            raise UsageError(
                f"unknown alert id {alert_id!r}: the alert processor has no record of it "
                "(`stream-sentinel alerts queue` lists the open cases and their alert ids)"
            )
        return AlertRecord.parse(fields)

    # -- resolve ------------------------------------------------------------------------------
    def resolve(self, alert_id: str, label: Label, note: str | None = None) -> Resolution:
        """Close the alert's case with an analyst's verdict and send it to the learning plane."""
        record = self.record(alert_id)
        if record.label is not None:
            raise UsageError(
                f"alert {alert_id} was already resolved as {record.label}; nothing changed"
            )
        now = self.clock.now_ms()
        feedback = Feedback(
            transaction_id=record.transaction_id,
            user_id=record.user_id,
            merchant_id=record.merchant_id,
            event_time=record.event_time,
            label=label,
            source=FeedbackSource.ANALYST,
            confidence=1.0,
            pattern=None,
            label_time=now,
        )
        encoded = self.serde.encoder(FRAUD_FEEDBACK)(avro.to_dict(feedback))
        self._publish(self.topics.fraud_feedback, record.user_id, encoded)
        self.store.execute(effects.close_case(record, label, note, now))
        blocked = self._blocked_until(record.user_id, now)
        return Resolution(record, feedback, blocked)

    # -- unblock ------------------------------------------------------------------------------
    def unblock(self, user_id: str) -> Unblock:
        """Lift the user's block now: an UNBLOCK_USER action, and the block leaves Redis."""
        now = self.clock.now_ms()
        blocked_until = self._blocked_until(user_id, now)
        if blocked_until is None:
            raise UsageError(self._not_blocked(user_id, now))
        action = UserAction(
            action_id=operator_action_id(user_id, Action.UNBLOCK_USER, str(blocked_until)),
            user_id=user_id,
            action=Action.UNBLOCK_USER,
            alert_id=None,
            transaction_id=None,
            reason=f"operator lifted the block that ran until {iso_ms(blocked_until)}",
            created_time=now,
        )
        encoded = self.serde.encoder(USER_ACTIONS)(avro.to_dict(action))
        self._publish(self.topics.user_actions, user_id, encoded)
        self.store.execute(effects.lift_block(user_id))
        return Unblock(action, blocked_until)

    def _blocked_until(self, user_id: str, now: int) -> int | None:
        [expiry] = self.store.execute(Batch().zscore(NS, keys.BLOCKED, user_id))
        return int(expiry) if expiry is not None and expiry > now else None

    def _not_blocked(self, user_id: str, now: int) -> str:
        probe = Batch().exists(NS, keys.user_alerts(user_id))
        for set_key in keys.CONTROL_SETS:
            probe.zscore(NS, set_key, user_id)
        known, *control = self.store.execute(probe)
        if known or any(score is not None and score > now for score in control):
            return f"user {user_id!r} is not blocked; nothing changed"
        return (
            f"unknown user id {user_id!r}: no recent alerts or control state for this user; "
            "nothing changed (check the id, e.g. in `stream-sentinel alerts queue`)"
        )

    # -- publishing ---------------------------------------------------------------------------
    def _publish(self, topic: str, user_id: str, value: bytes) -> None:
        """Produce one record and wait for it; raise when Kafka did not take it."""
        problems: list[str] = []

        def delivered(error: str | None, where: TopicPartition | None, offset: int | None) -> None:
            if error is not None:
                problems.append(error)

        producer = self.broker.producer()
        try:
            producer.produce(topic, value, user_id.encode(), on_delivery=delivered)
            undelivered = producer.flush(DELIVERY_TIMEOUT_S)
        finally:
            producer.close()
        if undelivered or problems:
            reason = problems[0] if problems else f"not acknowledged in {DELIVERY_TIMEOUT_S:g} s"
            raise ServiceUnavailable(
                f"could not publish to {topic}: {reason}; nothing changed in Redis. Check that "
                "Kafka is up and the topics exist (`stream-sentinel topics create`), then retry"
            )
