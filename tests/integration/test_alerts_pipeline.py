"""Alert response on the real stack: Kafka, Redis and the registry of the session.

One detector and one alert processor run in-process and share a manual clock, so a block
period ends by advancing the clock, never by sleeping. Topics are read with read_committed.
"""

from __future__ import annotations

import collections
import io
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from stream_sentinel.alerts.effects import AlertRecord
from stream_sentinel.alerts.operator import AlertDesk
from stream_sentinel.alerts.policy import action_id
from stream_sentinel.alerts.processor import AlertWorker
from stream_sentinel.clients.backends import Backends, real_backends
from stream_sentinel.clients.registry import connect_registry
from stream_sentinel.clock import SYSTEM_CLOCK, ManualClock
from stream_sentinel.config import Settings
from stream_sentinel.detector.worker import DetectorWorker
from stream_sentinel.domain import Action, Label, RiskLevel, Transaction, UserAction
from stream_sentinel.state import keys
from stream_sentinel.state.base import Batch, StateStore
from stream_sentinel.transport.base import TopicPartition
from stream_sentinel.transport.kafka import KafkaBroker
from stream_sentinel.transport.topics import Topics
from stream_sentinel.wire import records
from stream_sentinel.wire.serde import Serde

pytestmark = pytest.mark.integration

DAY_MS = 86_400_000
BLOCK_S = 600
COUNT = 3_000  # generated transactions


def pipeline_settings(settings: Settings, block_period_s: float) -> Settings:
    """A rules-only detector where a payment far above the user's mean is CRITICAL."""
    rules = settings.detector.rules.model_dump()
    rules["levels"]["high_amount_vs_average"] = RiskLevel.CRITICAL
    return settings.with_overrides(
        detector={"rules": rules, "max_batch": 200},
        alerts={"block_period_s": block_period_s, "max_batch": 50},
    )


@dataclass
class Pipeline:
    """The detector and the alert processor of one test, on the real stack."""

    settings: Settings
    clock: ManualClock
    backends: Backends
    serde: Serde
    detector: DetectorWorker
    processor: AlertWorker | None = None
    processors: list[AlertWorker] = field(default_factory=list)

    @classmethod
    def start(cls, settings: Settings, clock: ManualClock, processor: bool = True) -> Pipeline:
        """The detector, and the alert processor unless another one (the CLI) takes the group."""
        KafkaBroker(settings.kafka).admin().create_topics(Topics.from_settings(settings).specs())
        backends = real_backends(settings)
        serde = Serde.from_settings(settings, connect_registry(settings.registry))
        detector = DetectorWorker(settings, backends, serde, clock=clock)
        detector.start()
        running = cls(settings, clock, backends, serde, detector)
        if processor:
            running.processor = running.processor_in_group(settings.alerts.group_id, slot=0)
        return running

    def close(self) -> None:
        for worker in self.processors:
            worker.close()
        self.detector.close()
        self.backends.close()

    @property
    def topics(self) -> Topics:
        return Topics.from_settings(self.settings)

    # -- driving ------------------------------------------------------------------------------
    def pay(self, tx_id: str, user: str, amount: float, ts: int) -> None:
        """Produce one transaction (flushed: it is in Kafka when this returns)."""
        encode = self.serde.encoder("transactions")
        tx = Transaction(tx_id, user, amount, ts, merchant_id="m1")
        producer = self.backends.broker.producer()
        producer.produce(self.topics.transactions, encode(records.to_dict(tx)), user.encode())
        assert producer.flush(30.0) == 0
        producer.close()

    def history(self, user: str) -> None:
        """Three ordinary payments on the three days before now (the user's mean is ~22)."""
        now = self.clock.now_ms()
        for day in (3, 2, 1):
            self.pay(f"{user}-h{day}", user, 20.0 + day, now - day * DAY_MS)

    def detect(self, total: int) -> None:
        """Poll the detector until it has handled ``total`` transactions since it started."""
        while self.detector.loop.stats.records < total:
            self.detector.poll()
        self.detector.loop.settle()  # its state write too (it overlaps the next batch)

    def respond(self, total: int, worker: AlertWorker | None = None) -> None:
        """Poll an alert processor until it has handled ``total`` alert records."""
        worker = worker or self.processor
        assert worker is not None, "this pipeline runs no alert processor in-process"
        while worker.loop.stats.records < total:
            worker.poll()

    def processor_in_group(self, group_id: str, slot: int = 1) -> AlertWorker:
        settings = self.settings.with_overrides(alerts={"group_id": group_id})
        worker = AlertWorker(settings, self.backends, self.serde, clock=self.clock, slot=slot)
        worker.start()
        self.processors.append(worker)
        return worker

    # -- reading ------------------------------------------------------------------------------
    def read(self, logical: str) -> list[dict[str, Any]]:
        return read_topic(self.settings, self.serde, logical)

    def actions(self) -> list[UserAction]:
        return [records.from_dict(UserAction, row) for row in self.read("user-actions")]

    def decision(self, tx_id: str) -> tuple[str, list[str]]:
        [score] = [s for s in self.read("fraud-scores") if s["transaction_id"] == tx_id]
        return score["decision"], score["reasons"]


def read_topic(
    settings: Settings, serde: Serde, logical: str, timeout_s: float = 60.0
) -> list[dict[str, Any]]:
    """Every committed record of a topic, decoded, in partition then offset order.

    The ends are the high watermarks of a read_uncommitted reader: Kafka answers a commit
    before it has written the commit markers, so a read_committed reader's end (the last stable
    offset) can still stop short of the batch that was just committed.
    """
    broker = KafkaBroker(settings.kafka)
    topic = Topics.from_settings(settings).name(logical)
    admin = broker.admin()
    partitions = admin.describe_topics([topic])[topic].partitions
    admin.close()
    tps = [TopicPartition(topic, p) for p in range(partitions)]
    probe = broker.consumer(None, isolation="read_uncommitted")
    try:
        ends = {tp: probe.watermarks(tp)[1] for tp in tps}
    finally:
        probe.close()
    consumer = broker.consumer(None, isolation="read_committed")
    deadline = time.monotonic() + timeout_s
    try:
        consumer.assign({tp: 0 for tp in tps})
        found: list[tuple[int, int, bytes | None]] = []
        pending = {tp for tp in tps if ends[tp] > 0}
        while pending:
            assert time.monotonic() < deadline, f"{topic}: not read to {ends} in {timeout_s} s"
            for record in consumer.consume(1000, 0.5):
                found.append((record.partition() or 0, record.offset() or 0, record.value()))
            pending = {tp for tp in pending if (consumer.position(tp) or 0) < ends[tp]}
    finally:
        consumer.close()
    decoder = serde.decoder(logical)
    return [decoder.decode(value) for _, _, value in sorted(found)]


def snapshot(store: StateStore) -> dict[str, Any]:
    """The alert processor's keys in the pipeline namespace (watermarks and heartbeats left
    out: they belong to a consumer group, and the detector's keys are not ours)."""
    ns = keys.PIPELINE
    names = [
        k
        for k in store.scan(ns)
        if k.startswith(("control:", "cases:", "index:", "alerts:", "alert:", "stats:alert"))
    ]
    batch = Batch()
    for key in names:
        if key.startswith(("control:", "cases:", "index:")):
            batch.zrangebyscore(ns, key, float("-inf"), float("inf"))
        elif key.startswith("alerts:"):
            batch.lrange(ns, key, 0, -1)
        else:
            batch.hgetall(ns, key)
    return dict(zip(names, store.execute(batch), strict=True))


# -- the tests --------------------------------------------------------------------------------


@pytest.fixture
def pipeline(settings: Settings) -> Iterator[Pipeline]:
    clock = ManualClock(SYSTEM_CLOCK.now_ms())
    running = Pipeline.start(pipeline_settings(settings, BLOCK_S), clock)
    yield running
    running.close()


def test_a_critical_alert_blocks_the_user_until_the_block_period_ends(
    pipeline: Pipeline,
) -> None:
    pipeline.history("u1")
    now = pipeline.clock.now_ms()
    pipeline.pay("big", "u1", 5_000.0, now)
    pipeline.detect(4)
    [alert] = pipeline.read("fraud-alerts")
    assert (alert["severity"], alert["transaction_id"], alert["user_id"]) == (
        "CRITICAL",
        "big",
        "u1",
    )

    pipeline.respond(1)
    alert_id = alert["alert_id"]
    taken = [
        (a.action, a.user_id, a.alert_id, a.transaction_id, a.expires_time)
        for a in pipeline.actions()
    ]
    assert taken == [
        (Action.BLOCK_USER, "u1", alert_id, "big", now + BLOCK_S * 1000),
        (Action.OPEN_CASE, "u1", alert_id, "big", None),
        (Action.INVESTIGATE, "u1", alert_id, "big", None),
    ]

    # the BLOCK_USER action is visible: the user's next payment is declined, others are not
    pipeline.clock.advance(1)
    pipeline.pay("next", "u1", 20.0, pipeline.clock.now_ms())
    pipeline.pay("other", "u2", 20.0, pipeline.clock.now_ms())
    pipeline.detect(6)
    assert pipeline.decision("next") == ("DECLINE", ["user_blocked"])
    assert pipeline.decision("other") == ("APPROVE", [])

    pipeline.clock.advance(BLOCK_S)  # the block ran until now + 600 s; it is now + 601 s
    pipeline.pay("after", "u1", 20.0, pipeline.clock.now_ms())
    pipeline.detect(7)
    assert pipeline.decision("after") == ("APPROVE", [])
    assert pipeline.processor is not None
    pipeline.processor.sweep()
    assert "control:blocked" not in snapshot(pipeline.backends.state)


def test_replaying_fraud_alerts_from_the_start_creates_no_duplicates(
    pipeline: Pipeline,
) -> None:
    for user in ("u1", "u2", "u3"):
        pipeline.history(user)
        pipeline.pay(f"{user}-big", user, 5_000.0, pipeline.clock.now_ms())
    pipeline.detect(12)
    pipeline.respond(3)
    actions, state = pipeline.actions(), snapshot(pipeline.backends.state)
    assert len(actions) == 9
    assert len({a.action_id for a in actions}) == 9
    assert sorted(m for m, _ in state["cases:CRITICAL"]) == sorted(
        a["alert_id"] for a in pipeline.read("fraud-alerts")
    )

    replay = pipeline.processor_in_group("alert-replay-group")
    pipeline.respond(3, replay)
    assert replay.summary()["duplicates"] == 3
    assert pipeline.actions() == actions
    assert snapshot(pipeline.backends.state) == state


def test_resolve_publishes_feedback_with_the_alerts_transaction_and_user(
    pipeline: Pipeline,
) -> None:
    pipeline.history("u7")
    pipeline.pay("big-u7", "u7", 5_000.0, pipeline.clock.now_ms())
    pipeline.detect(4)
    pipeline.respond(1)
    [alert] = pipeline.read("fraud-alerts")
    desk = AlertDesk(pipeline.settings, pipeline.backends, pipeline.serde, pipeline.clock)
    desk.resolve(alert["alert_id"], Label.FRAUD, "cardholder denies the payment")
    [feedback] = pipeline.read("fraud-feedback")
    assert feedback == {
        "transaction_id": "big-u7",
        "user_id": "u7",
        "merchant_id": "m1",
        "event_time": alert["event_time"],
        "label": "FRAUD",
        "source": "ANALYST",
        "confidence": 1.0,
        "pattern": None,
        "label_time": pipeline.clock.now_ms(),
    }
    assert desk.queue() == []


def test_generated_fraud_traffic_gets_exactly_one_response_per_alert(
    pipeline: Pipeline,
) -> None:
    from rich.console import Console

    from stream_sentinel.generator.launch import Launch
    from stream_sentinel.generator.request import GenerateRequest

    quiet = Console(file=io.StringIO())
    request = GenerateRequest(rate=0, count=COUNT, users=150, fraud_rate=0.05, seed=11)
    outcome = Launch(lambda: pipeline.settings, quiet, quiet).run(request)
    assert (outcome.sent, outcome.delivery.errors) == (COUNT, 0)
    pipeline.detect(COUNT)
    alerts = pipeline.read("fraud-alerts")
    pipeline.respond(len(alerts))
    actions, state = pipeline.actions(), snapshot(pipeline.backends.state)
    assert {a["severity"] for a in alerts} >= {"MEDIUM", "HIGH", "CRITICAL"}

    # one record per alert, and on user-actions exactly the record's actions, each once
    ids = {a["alert_id"] for a in alerts}
    assert len(ids) == len(alerts)
    assert {k.removeprefix("alert:") for k in state if k.startswith("alert:")} == ids
    assert len({a.action_id for a in actions}) == len(actions)
    taken: dict[str, list[Action]] = collections.defaultdict(list)
    for action in actions:
        assert action.action_id == action_id(action.alert_id or "", action.action)
        taken[action.alert_id or ""].append(action.action)
    recorded = {i: AlertRecord.parse(state[f"alert:{i}"]) for i in ids}
    for alert_id, record in recorded.items():
        assert [a.value for a in taken.get(alert_id, [])] == record.actions
        assert record.tier - record.severity in (0, 1)

    # the counters agree with the topic; open cases are the alerts that opened one
    by_severity = collections.Counter(a["severity"] for a in alerts)
    counts = {k: int(v) for k, v in state["stats:alerts"].items()}
    assert {k: v for k, v in counts.items() if k.startswith("alerts:")} == {
        f"alerts:{severity}": n for severity, n in by_severity.items()
    }
    for tier in ("CRITICAL", "HIGH", "MEDIUM"):
        opened = {i for i, r in recorded.items() if r.tier.name == tier and r.case == "open"}
        assert {m for m, _ in state.get(f"cases:{tier}", [])} == opened

    # control holds the latest expiry of each user's actions, and blocked users are declined
    kinds = {
        keys.BLOCKED: Action.BLOCK_USER,
        keys.STEP_UP: Action.STEP_UP,
        keys.WATCH: Action.WATCH,
    }
    for set_key, kind in kinds.items():
        latest: dict[str, float] = {}
        for action in (a for a in actions if a.action == kind):
            expiry = float(action.expires_time or 0)
            latest[action.user_id] = max(latest.get(action.user_id, 0.0), expiry)
        assert dict(state.get(set_key, [])) == latest
    blocked = sorted(dict(state[keys.BLOCKED]))
    pipeline.pay("after-block", blocked[0], 10.0, pipeline.clock.now_ms())
    pipeline.detect(COUNT + 1)
    decided, reasons = pipeline.decision("after-block")
    assert (decided, reasons[0]) == ("DECLINE", "user_blocked")
