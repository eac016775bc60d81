"""The alert processor: consumer group ``alert-response-group`` on ``fraud-alerts``.

A :class:`~stream_sentinel.stream.loop.Handler` on the shared exactly-once loop. Per batch:
decode the alerts (bad ones become dead letters) -> one state read (the users' alert history,
whether each alert was already handled, the users' control expiries) -> a plan per alert
(:mod:`.policy`) -> outputs: a ``UserAction`` per action on ``user-actions`` (key user_id) ->
(the loop) outputs and offsets committed together, then the effects (:mod:`.effects`) written
atomically with the partition's watermark -> SLA samples (:mod:`.sla`).

Idempotence has two layers: the loop's watermark makes a replayed batch change nothing, and an
alert whose record already exists (handled before, through any batch boundary or consumer
group) yields no action, no output and no state change.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from stream_sentinel.alerts import effects, sla
from stream_sentinel.alerts.policy import HistoryEntry, ResponsePlan, plan_response
from stream_sentinel.clients.backends import Backends
from stream_sentinel.clock import SYSTEM_CLOCK, Clock
from stream_sentinel.config import Settings
from stream_sentinel.domain import FraudAlert, UserAction
from stream_sentinel.errors import SerializationError
from stream_sentinel.state import keys
from stream_sentinel.state.base import Batch, StateStore
from stream_sentinel.stream.deadletters import LetterBudget, build_letter, letter_budget
from stream_sentinel.stream.loop import Step, StreamLoop
from stream_sentinel.stream.watchdog import Watchdog
from stream_sentinel.transport.base import Record
from stream_sentinel.transport.topics import DEAD_LETTER, FRAUD_ALERTS, USER_ACTIONS, Topics
from stream_sentinel.wire import records as avro
from stream_sentinel.wire.serde import Serde

COMPONENT = "alert-processor"
NS = keys.PIPELINE
Output = tuple[str, bytes | None, bytes]


@dataclass(frozen=True, slots=True)
class Rejected:
    """An input record that could not be used as an alert."""

    position: int
    error_type: str
    reason: str


@dataclass
class HandledBatch:
    """The handler's result for one batch (the loop hands it back in ``committed``)."""

    plans: list[tuple[int, ResponsePlan]]  # (input partition, plan)
    duplicates: int
    rejected: list[Rejected]
    emitted: bool


@dataclass
class ProcessorStats:
    """What this process did, for the run summary."""

    alerts: Counter[str] = field(default_factory=Counter)  # by severity
    actions: Counter[str] = field(default_factory=Counter)  # by action
    escalated: int = 0
    duplicates: int = 0
    dead_letters: Counter[str] = field(default_factory=Counter)


@dataclass
class _BatchView:
    """What the one state read of a batch found."""

    history: dict[str, list[HistoryEntry]]
    handled: set[str]
    control: effects.ControlExpiries


class AlertHandler:
    """Turns a batch of fraud-alert records into user actions and their effects."""

    def __init__(
        self,
        settings: Settings,
        store: StateStore,
        serde: Serde,
        metrics: sla.AlertMetrics,
        clock: Clock,
    ) -> None:
        self.settings = settings
        self.policy = settings.alerts
        self.store = store
        self.metrics = metrics
        self.clock = clock
        self.topics = Topics.from_settings(settings)
        self.stats = ProcessorStats()
        self._decoder = serde.decoder(FRAUD_ALERTS)
        self._encode_action = serde.encoder(USER_ACTIONS)
        self._encode_dead = serde.encoder(DEAD_LETTER)
        self.letter_budget = LetterBudget()  # the dead-letter topic's, once the loop starts

    # -- Handler ------------------------------------------------------------------------------
    def handle(self, records: Sequence[Record], applies: np.ndarray, emit: bool) -> Step:
        # Rows whose state is already applied (an operator rewound the group) were acted on.
        candidates = [i for i in range(len(records)) if applies[i]]
        alerts, rejected = self._decode(records, candidates)
        view = self._read(alerts)
        state: dict[int, Batch] = {r.partition() or 0: Batch() for r in records}
        plans, duplicates = self._plan(records, alerts, view, state)
        for item in rejected:
            partition = records[item.position].partition() or 0
            state[partition].hincrby(NS, keys.DEAD_LETTER_COUNTS, item.error_type, 1)
        step = Step(state=state, payload=HandledBatch(plans, duplicates, rejected, emit))
        if emit:
            step.outputs = self._outputs(records, plans, rejected)
        return step

    def committed(self, step: Step, applied: Mapping[int, object]) -> None:
        """Measure the SLA of the plans whose state was written (``applied[p]`` truthy)."""
        handled: HandledBatch = step.payload
        if not handled.emitted:
            return  # a repair: these actions were measured when they were first committed
        plans = [plan for partition, plan in handled.plans if applied.get(partition, False)]
        found = sla.samples(plans, self.clock.now_ms())
        self.metrics.observe(found, self.policy.sla_ms)
        persisted = sla.persisted(found, self.policy.sla_ms)
        if persisted:
            self.store.execute(persisted)
        self._account(plans, handled)

    def forget(self, partitions: list[int]) -> None:
        return None  # nothing is cached between batches: history is read fresh every batch

    # -- decoding -----------------------------------------------------------------------------
    def _decode(
        self, records: Sequence[Record], candidates: list[int]
    ) -> tuple[list[tuple[int, FraudAlert]], list[Rejected]]:
        decoded, failures = self._decoder.decode_many([records[i].value() for i in candidates])
        rejected = [Rejected(candidates[f.index], f.kind, f.reason) for f in failures]
        alerts: list[tuple[int, FraudAlert]] = []
        for position, record in zip(candidates, decoded, strict=True):
            if record is None:
                continue
            try:
                alerts.append((position, _checked(avro.from_dict(FraudAlert, record))))
            except SerializationError as exc:
                rejected.append(Rejected(position, "invalid_alert", str(exc)))
        rejected.sort(key=lambda item: item.position)
        return alerts, rejected

    # -- the one state read ---------------------------------------------------------------------
    def _read(self, alerts: list[tuple[int, FraudAlert]]) -> _BatchView:
        users = sorted({alert.user_id for _, alert in alerts})
        ids = sorted({alert.alert_id for _, alert in alerts})
        if not users:
            return _BatchView({}, set(), effects.ControlExpiries())
        batch = Batch()
        for user in users:
            batch.lrange(NS, keys.user_alerts(user), 0, self.policy.history_cap - 1)
        for alert_id in ids:
            batch.exists(NS, keys.alert_record(alert_id))
        for set_key in effects.CONTROL_SETS.values():
            batch.zmscore(NS, set_key, users)
        replies = self.store.execute(batch)
        lists, exists = replies[: len(users)], replies[len(users) : len(users) + len(ids)]
        history = {
            user: [e for e in map(HistoryEntry.decode, raw) if e is not None]
            for user, raw in zip(users, lists, strict=True)
        }
        handled = {alert_id for alert_id, found in zip(ids, exists, strict=True) if found}
        control = effects.ControlExpiries()
        scores = replies[len(users) + len(ids) :]
        for set_key, expiries in zip(effects.CONTROL_SETS.values(), scores, strict=True):
            for user, expiry in zip(users, expiries, strict=True):
                control.scores[(set_key, user)] = expiry
        return _BatchView(history, handled, control)

    # -- deciding -------------------------------------------------------------------------------
    def _plan(
        self,
        records: Sequence[Record],
        alerts: list[tuple[int, FraudAlert]],
        view: _BatchView,
        state: dict[int, Batch],
    ) -> tuple[list[tuple[int, ResponsePlan]], int]:
        plans: list[tuple[int, ResponsePlan]] = []
        duplicates = 0
        for position, alert in alerts:
            if alert.alert_id in view.handled:
                duplicates += 1
                continue
            view.handled.add(alert.alert_id)  # a second copy later in this batch is a duplicate
            history = view.history.setdefault(alert.user_id, [])
            plan = plan_response(alert, history, self.policy)
            history.insert(0, plan.history_entry())
            partition = records[position].partition() or 0
            effects.response_effects(state[partition], plan, view.control, self.policy)
            plans.append((partition, plan))
        return plans, duplicates

    # -- outputs --------------------------------------------------------------------------------
    def _outputs(
        self,
        records: Sequence[Record],
        plans: list[tuple[int, ResponsePlan]],
        rejected: list[Rejected],
    ) -> list[Output]:
        now = self.clock.now_ms()
        out: list[Output] = []
        for _, plan in plans:
            key = plan.alert.user_id.encode()
            for action in user_actions(plan, now):
                out.append(
                    (self.topics.user_actions, key, self._encode_action(avro.to_dict(action)))
                )
        for item in rejected:
            letter_key, letter = self._dead_letter(records[item.position], item, now)
            out.append((self.topics.dead_letter, letter_key, letter))
        return out

    def _dead_letter(self, record: Record, item: Rejected, now: int) -> tuple[bytes | None, bytes]:
        key, letter = build_letter(
            record,
            item.error_type,
            item.reason,
            now,
            COMPONENT,
            self.letter_budget,
            self.topics.fraud_alerts,
        )
        return key, self._encode_dead(letter)

    def _account(self, plans: list[ResponsePlan], handled: HandledBatch) -> None:
        stats, metrics = self.stats, self.metrics
        for plan in plans:
            stats.alerts[plan.alert.severity.name] += 1
            metrics.alerts.labels(plan.alert.severity.name).inc()
            stats.escalated += int(plan.escalated)
            stats.actions.update(p.action.value for p in plan.actions)
        stats.duplicates += handled.duplicates
        metrics.duplicates.inc(handled.duplicates)
        for item in handled.rejected:
            stats.dead_letters[item.error_type] += 1
            metrics.dead_letters.labels(item.error_type).inc()


def user_actions(plan: ResponsePlan, created_time: int) -> list[UserAction]:
    """The ``UserAction`` records of a plan, in the policy table's order."""
    alert = plan.alert
    return [
        UserAction(
            action_id=planned.action_id,
            user_id=alert.user_id,
            action=planned.action,
            alert_id=alert.alert_id,
            transaction_id=alert.transaction_id,
            reason=plan.reason,
            created_time=created_time,
            expires_time=planned.expires_time,
        )
        for planned in plan.actions
    ]


def _checked(alert: FraudAlert) -> FraudAlert:
    for name in ("alert_id", "transaction_id", "user_id"):
        if not getattr(alert, name).strip():
            raise SerializationError(f"FraudAlert record has an empty {name}")
    return alert


class AlertWorker:
    """An alert processor in the consumer group: the loop, the handler and the sweeper."""

    def __init__(
        self,
        settings: Settings,
        backends: Backends,
        serde: Serde,
        *,
        slot: int = 0,
        clock: Clock = SYSTEM_CLOCK,
        metrics: sla.AlertMetrics | None = None,
        low_latency: bool | None = None,
        watchdog: Watchdog | None = None,
    ) -> None:
        policy = settings.alerts
        topics = Topics.from_settings(settings)
        self.settings = settings
        self.store = backends.state
        self.clock = clock
        self.metrics = metrics or sla.AlertMetrics()
        self.handler = AlertHandler(settings, backends.state, serde, self.metrics, clock)
        self.loop = StreamLoop(
            backends.broker,
            backends.state,
            self.handler,
            group_id=policy.group_id,
            topic=topics.fraud_alerts,
            guarantee=policy.guarantee,
            transactional_id=f"{topics.prefix}{policy.group_id}-{slot}",
            max_batch=policy.max_batch,
            poll_timeout_s=policy.poll_timeout_ms / 1000,
            clock=clock,
            low_latency=low_latency,
            watchdog=watchdog,
        )
        self.swept = Counter[str]()
        self._next_sweep = float("-inf")

    def start(self) -> None:
        self.handler.letter_budget = letter_budget(self.loop.broker, self.handler.topics)
        self.loop.start()

    def poll(self, limit: int | None = None) -> int:
        """One batch (if any arrived), then the sweep when it is due; returns the records."""
        count = self.loop.poll(limit)
        if self.clock.monotonic() >= self._next_sweep:
            self.sweep()
        return count

    def sweep(self) -> effects.SweepResult:
        """Remove expired control members and records past retention now."""
        self._next_sweep = self.clock.monotonic() + self.settings.alerts.sweep_interval_s
        result = effects.sweep(self.store, self.clock.now_ms(), self.settings.alerts)
        self.swept.update(result.expired)
        self.swept["records"] += result.records_deleted
        return result

    def close(self) -> None:
        self.loop.close()

    def summary(self) -> dict[str, object]:
        loop, stats = self.loop.stats, self.handler.stats
        return {
            "records": loop.records,
            "batches": loop.batches,
            "alerts": dict(stats.alerts),
            "actions": dict(stats.actions),
            "escalated": stats.escalated,
            "duplicates": stats.duplicates,
            "dead_letters": dict(stats.dead_letters),
            "expired": {k: v for k, v in self.swept.items() if k != "records" and v},
            "records_swept": self.swept["records"],
            "aborted_transactions": loop.aborted,
            "repaired_records": loop.repaired,
        }
