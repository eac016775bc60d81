"""The alert processor's handler on the embedded backends, end to end: alerts in, actions out."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pytest

from stream_sentinel.alerts.policy import action_id
from stream_sentinel.alerts.processor import AlertWorker
from stream_sentinel.clients.backends import Backends, embedded_backends
from stream_sentinel.clock import ManualClock
from stream_sentinel.config import Settings, load_settings
from stream_sentinel.domain import Action, FraudAlert, RiskLevel, UserAction
from stream_sentinel.registry_server.local_client import LocalRegistryClient
from stream_sentinel.state import keys
from stream_sentinel.state.base import Batch, StateStore
from stream_sentinel.transport.base import TopicPartition
from stream_sentinel.transport.topics import Topics
from stream_sentinel.wire import records
from stream_sentinel.wire.serde import Serde

pytestmark = pytest.mark.unit

NS = keys.PIPELINE
T0 = 1_700_000_000_000


def snapshot(store: StateStore, skip: tuple[str, ...] = ("wm:",)) -> dict[str, Any]:
    """The pipeline namespace, key by key (watermarks left out: they are per group)."""
    names = [k for k in store.scan(NS) if not k.startswith(skip)]
    batch = Batch()
    for key in names:
        if key.startswith(("control:", "cases:", "index:")):
            batch.zrangebyscore(NS, key, float("-inf"), float("inf"))
        elif key.startswith("alerts:"):
            batch.lrange(NS, key, 0, -1)
        else:
            batch.hgetall(NS, key)
    return dict(zip(names, store.execute(batch), strict=True))


def make_alert(
    alert_id: str,
    severity: RiskLevel = RiskLevel.CRITICAL,
    user_id: str = "u1",
    event_time: int = T0,
) -> FraudAlert:
    return FraudAlert(
        alert_id=alert_id,
        transaction_id=f"tx-{alert_id}",
        user_id=user_id,
        merchant_id="m7",
        amount=480.0,
        score=0.96,
        severity=severity,
        reasons=["impossible_travel"],
        contributions=[],
        recommended_actions=[],
        event_time=event_time,
        produced_time=T0 + 100,
        alert_time=T0 + 200,
    )


@dataclass
class Rig:
    """Embedded broker + store + registry, a manual clock, and helpers around the topics."""

    settings: Settings
    clock: ManualClock
    backends: Backends
    serde: Serde
    topics: Topics = field(default_factory=Topics)
    workers: list[AlertWorker] = field(default_factory=list)

    def publish(self, *alerts: FraudAlert) -> None:
        encode = self.serde.encoder("fraud-alerts")
        self.publish_raw(*[(a.user_id, encode(records.to_dict(a))) for a in alerts])

    def publish_raw(self, *items: tuple[str, bytes]) -> None:
        producer = self.backends.broker.producer()
        for user, value in items:
            producer.produce(self.topics.fraud_alerts, value, user.encode())
        assert producer.flush(5.0) == 0

    def worker(self, group_id: str | None = None) -> AlertWorker:
        settings = self.settings
        if group_id is not None:
            settings = settings.with_overrides(alerts={"group_id": group_id})
        worker = AlertWorker(settings, self.backends, self.serde, clock=self.clock)
        worker.start()
        self.workers.append(worker)
        return worker

    def drain(self, worker: AlertWorker) -> int:
        total = 0
        while count := worker.poll():
            total += count
        return total

    def read(self, topic: str, logical: str) -> list[dict[str, Any]]:
        consumer = self.backends.broker.consumer(None)
        partitions = self.backends.broker.admin().describe_topics([topic])[topic].partitions
        consumer.assign({TopicPartition(topic, p): 0 for p in range(partitions)})
        decoder = self.serde.decoder(logical)
        found = []
        while batch := consumer.consume(1000, 0.0):
            found += [decoder.decode(r.value()) for r in batch]
        consumer.close()
        return found

    def actions(self) -> list[UserAction]:
        rows = self.read(self.topics.user_actions, "user-actions")
        return [records.from_dict(UserAction, row) for row in rows]


def make_rig(settings: Settings | None = None) -> Rig:
    """A rig whose clock starts 1 s after the test alerts' transactions."""
    clock = ManualClock(T0 + 1_000)
    backends = embedded_backends(clock)
    backends.broker.admin().create_topics(Topics().specs())
    settings = settings or load_settings("test", environ={})
    return Rig(settings, clock, backends, Serde(LocalRegistryClient.in_memory()))


@pytest.fixture
def rig() -> Iterator[Rig]:
    settings = load_settings("test", environ={}).with_overrides(
        alerts={"block_period_s": 60, "step_up_period_s": 30, "watch_period_s": 120}
    )
    rig = make_rig(settings)
    yield rig
    for worker in rig.workers:
        worker.close()


def test_a_critical_alert_becomes_three_actions_keyed_by_user(rig: Rig) -> None:
    rig.publish(make_alert("a-1"))
    worker = rig.worker()
    assert rig.drain(worker) == 1
    reason = "CRITICAL alert on tx-a-1 (impossible_travel)"
    assert rig.actions() == [
        UserAction(
            action_id("a-1", Action.BLOCK_USER),
            "u1",
            Action.BLOCK_USER,
            "a-1",
            "tx-a-1",
            reason,
            T0 + 1_000,
            T0 + 200 + 60_000,
        ),
        UserAction(
            action_id("a-1", Action.OPEN_CASE),
            "u1",
            Action.OPEN_CASE,
            "a-1",
            "tx-a-1",
            reason,
            T0 + 1_000,
            None,
        ),
        UserAction(
            action_id("a-1", Action.INVESTIGATE),
            "u1",
            Action.INVESTIGATE,
            "a-1",
            "tx-a-1",
            reason,
            T0 + 1_000,
            None,
        ),
    ]
    state = snapshot(rig.backends.state)
    assert state["control:blocked"] == [("u1", float(T0 + 60_200))]
    assert state["cases:CRITICAL"] == [("a-1", float(T0 + 200))]
    assert worker.summary()["actions"] == {"BLOCK_USER": 1, "OPEN_CASE": 1, "INVESTIGATE": 1}


def test_the_same_alert_twice_in_a_batch_acts_once(rig: Rig) -> None:
    rig.publish(make_alert("a-1"), make_alert("a-1"))
    worker = rig.worker()
    assert rig.drain(worker) == 2
    assert len(rig.actions()) == 3
    assert worker.summary()["duplicates"] == 1
    assert rig.backends.state.execute(Batch().llen(NS, "alerts:u1")) == [1]


def test_a_redelivered_alert_in_a_later_batch_changes_nothing(rig: Rig) -> None:
    rig.publish(make_alert("a-1"))
    worker = rig.worker()
    rig.drain(worker)
    before = snapshot(rig.backends.state)
    rig.publish(make_alert("a-1"))
    assert rig.drain(worker) == 1
    assert snapshot(rig.backends.state) == before
    assert len(rig.actions()) == 3
    assert worker.summary()["duplicates"] == 1


def test_replaying_the_topic_in_a_fresh_group_creates_no_action_and_no_case(rig: Rig) -> None:
    rig.publish(
        make_alert("a-1"),
        make_alert("a-2", RiskLevel.HIGH, user_id="u2"),
        make_alert("a-3", RiskLevel.MEDIUM, user_id="u3"),
    )
    rig.drain(rig.worker())
    before, actions = snapshot(rig.backends.state), rig.actions()
    replay = rig.worker("replay-group")
    assert rig.drain(replay) == 3
    assert rig.actions() == actions
    assert len(actions) == 3 + 2 + 2
    assert snapshot(rig.backends.state) == before
    assert replay.summary()["duplicates"] == 3


def test_repeated_alerts_within_the_window_escalate_across_batches(rig: Rig) -> None:
    worker = rig.worker()
    for i in range(3):
        rig.publish(make_alert(f"m-{i}", RiskLevel.MEDIUM, event_time=T0 + i * 60_000))
        rig.drain(worker)
    tiers = [(a.alert_id, a.action) for a in rig.actions()]
    assert tiers == [
        ("m-0", Action.OPEN_CASE),
        ("m-0", Action.WATCH),
        ("m-1", Action.OPEN_CASE),
        ("m-1", Action.WATCH),
        ("m-2", Action.STEP_UP),  # the third within an hour: HIGH's actions
        ("m-2", Action.OPEN_CASE),
    ]
    state = snapshot(rig.backends.state)
    assert state["cases:HIGH"] == [("m-2", float(T0 + 200))]
    assert [m for m, _ in state["cases:MEDIUM"]] == ["m-0", "m-1"]
    assert state["stats:alerts"]["escalated:HIGH"] == b"1"


def test_two_alerts_of_a_user_in_one_batch_see_each_other(rig: Rig) -> None:
    rig.publish(
        *[make_alert(f"m-{i}", RiskLevel.MEDIUM, event_time=T0 + i) for i in range(3)],
        replace(make_alert("c-1"), alert_time=T0 + 5_000),
        make_alert("c-0"),  # an older block: it must not shorten the newer one
    )
    rig.drain(rig.worker())
    assert [a.action for a in rig.actions() if a.alert_id == "m-2"] == [
        Action.STEP_UP,
        Action.OPEN_CASE,
    ]
    assert snapshot(rig.backends.state)["control:blocked"] == [("u1", float(T0 + 65_000))]


def test_bad_records_go_to_dead_letter_and_the_batch_goes_on(rig: Rig) -> None:
    unknown_id = b"\x00\x00\x00\x03\xe7" + b"\x02"
    rig.publish_raw(("u9", b"not avro at all"), ("u9", unknown_id))
    rig.publish(make_alert("a-1"))
    worker = rig.worker()
    assert rig.drain(worker) == 3
    letters = rig.read(rig.topics.dead_letter, "dead-letter")
    assert [(d["error_type"], d["reason"], d["component"], d["value"]) for d in letters] == [
        (
            "bad_magic",
            "unknown magic byte 110 (expected 0: Confluent wire format)",
            "alert-processor",
            b"not avro at all",
        ),
        (
            "unknown_schema_id",
            "schema id 999 is not in the registry",
            "alert-processor",
            unknown_id,
        ),
    ]
    assert {(d["source_topic"], d["key"]) for d in letters} == {("fraud-alerts", b"u9")}
    assert len(rig.actions()) == 3
    assert worker.summary()["dead_letters"] == {"bad_magic": 1, "unknown_schema_id": 1}
    counts = rig.backends.state.execute(Batch().hgetall(NS, keys.DEAD_LETTER_COUNTS))[0]
    assert counts == {"bad_magic": b"1", "unknown_schema_id": b"1"}


def test_an_alert_with_an_empty_user_is_a_dead_letter(rig: Rig) -> None:
    rig.publish(replace(make_alert("a-1"), user_id=" "))
    rig.drain(rig.worker())
    [letter] = rig.read(rig.topics.dead_letter, "dead-letter")
    assert (letter["error_type"], letter["reason"]) == (
        "invalid_alert",
        "FraudAlert record has an empty user_id",
    )
    assert rig.actions() == []


def test_sla_is_measured_per_action_from_the_input_timestamp_to_the_commit(rig: Rig) -> None:
    rig.publish(make_alert("a-1"), make_alert("a-2", RiskLevel.HIGH, user_id="u2"))
    worker = rig.worker()
    rig.clock.set(T0 + 100 + 1_500)  # 1.5 s after the transactions were produced
    rig.drain(worker)
    [fields] = rig.backends.state.execute(Batch().hgetall(NS, keys.ALERT_SLA))
    assert fields == {
        "CRITICAL:actions": b"3",
        "CRITICAL:missed": b"3",  # target 1 s
        "CRITICAL:latency_ms": b"4500",
        "CRITICAL:le:2500": b"3",
        "HIGH:actions": b"2",  # target 5 s: met
        "HIGH:latency_ms": b"3000",
        "HIGH:le:2500": b"2",
    }
    misses = worker.metrics.registry.get_sample_value
    assert misses("sentinel_alert_sla_misses_total", {"tier": "CRITICAL"}) == 3.0
    assert misses("sentinel_alert_sla_misses_total", {"tier": "HIGH"}) is None
    assert misses("sentinel_alert_action_latency_seconds_count", {"tier": "HIGH"}) == 2.0


def test_a_repair_writes_state_without_outputs_or_samples(rig: Rig) -> None:
    rig.publish(make_alert("a-1"))
    consumer = rig.backends.broker.consumer(None)
    consumer.assign({TopicPartition("fraud-alerts", p): 0 for p in range(6)})
    batch = consumer.consume(10, 0.0)
    worker = rig.worker()
    step = worker.handler.handle(batch, np.ones(len(batch), bool), emit=False)
    assert step.outputs == []
    partition = batch[0].partition() or 0
    rig.backends.state.execute(step.state[partition])
    worker.handler.committed(step, {partition: True})
    state = snapshot(rig.backends.state)
    assert state["control:blocked"] == [("u1", float(T0 + 60_200))]
    assert "stats:alert_sla" not in state


def test_the_worker_sweeps_expired_control_between_batches(rig: Rig) -> None:
    rig.publish(make_alert("a-1"))
    worker = rig.worker()
    rig.drain(worker)
    rig.clock.advance(60)  # now T0 + 61 s: the block (until T0 + 60.2 s) is over
    assert worker.poll() == 0
    assert "control:blocked" not in snapshot(rig.backends.state)
    assert worker.summary()["expired"] == {"control:blocked": 1}
