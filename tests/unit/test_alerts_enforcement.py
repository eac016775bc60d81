"""The loop closed in process: detector -> alert -> BLOCK_USER -> the detector declines.

Embedded backends and one manual clock for both workers, so "after the block period" is a
clock advance, not a sleep.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from stream_sentinel.alerts.operator import AlertDesk
from stream_sentinel.detector.worker import DetectorWorker
from stream_sentinel.domain import Action, Label, RiskLevel, Transaction
from stream_sentinel.state import keys
from stream_sentinel.state.base import Batch
from stream_sentinel.wire import records
from tests.unit.test_alerts_processor import Rig, make_rig

pytestmark = pytest.mark.unit

DAY_MS = 86_400_000
BLOCK_S = 600


@pytest.fixture
def loop() -> Iterator[tuple[Rig, DetectorWorker]]:
    rig = make_rig()
    rules = rig.settings.detector.rules.model_dump()
    rules["levels"]["high_amount_vs_average"] = RiskLevel.CRITICAL
    rig.settings = rig.settings.with_overrides(
        detector={"rules": rules}, alerts={"block_period_s": BLOCK_S}
    )
    detector = DetectorWorker(rig.settings, rig.backends, rig.serde, clock=rig.clock)
    detector.start()
    yield rig, detector
    detector.close()
    for worker in rig.workers:
        worker.close()


def pay(rig: Rig, detector: DetectorWorker, tx_id: str, user: str, amount: float, ts: int) -> None:
    encode = rig.serde.encoder("transactions")
    producer = rig.backends.broker.producer()
    tx = Transaction(tx_id, user, amount, ts, merchant_id="m1")
    producer.produce("transactions", encode(records.to_dict(tx)), user.encode())
    producer.flush(5.0)
    while detector.poll():
        pass


def decision(rig: Rig, tx_id: str) -> tuple[str, list[str]]:
    [score] = [s for s in rig.read("fraud-scores", "fraud-scores") if s["transaction_id"] == tx_id]
    return score["decision"], score["reasons"]


def history(rig: Rig, detector: DetectorWorker, user: str) -> None:
    now = rig.clock.now_ms()
    for day in (3, 2, 1):
        pay(rig, detector, f"{user}-h{day}", user, 20.0 + day, now - day * DAY_MS)


def test_a_critical_alert_blocks_the_user_until_the_block_period_ends(
    loop: tuple[Rig, DetectorWorker],
) -> None:
    rig, detector = loop
    processor = rig.worker()
    history(rig, detector, "u1")
    now = rig.clock.now_ms()
    pay(rig, detector, "big", "u1", 5_000.0, now)
    assert decision(rig, "big") == ("DECLINE", ["high_amount_vs_average"])
    [alert] = rig.read("fraud-alerts", "fraud-alerts")
    assert (alert["severity"], alert["transaction_id"]) == ("CRITICAL", "big")

    rig.drain(processor)
    block = [a for a in rig.actions() if a.action == Action.BLOCK_USER]
    assert [(a.user_id, a.expires_time) for a in block] == [("u1", now + BLOCK_S * 1000)]

    rig.clock.advance(1)
    pay(rig, detector, "next", "u1", 20.0, rig.clock.now_ms())
    pay(rig, detector, "other", "u2", 20.0, rig.clock.now_ms())
    assert decision(rig, "next") == ("DECLINE", ["user_blocked"])
    assert decision(rig, "other") == ("APPROVE", [])

    rig.clock.advance(BLOCK_S)  # the block ran until now + 600 s; it is now + 601 s
    pay(rig, detector, "after", "u1", 20.0, rig.clock.now_ms())
    assert decision(rig, "after") == ("APPROVE", [])
    processor.poll()  # the sweep: the block leaves the control set too
    assert rig.backends.state.execute(Batch().zcard(keys.PIPELINE, keys.BLOCKED)) == [0]


def test_unblock_lifts_the_block_before_it_ends(loop: tuple[Rig, DetectorWorker]) -> None:
    rig, detector = loop
    processor = rig.worker()
    history(rig, detector, "u1")
    pay(rig, detector, "big", "u1", 5_000.0, rig.clock.now_ms())
    rig.drain(processor)
    desk = AlertDesk(rig.settings, rig.backends, rig.serde, rig.clock)
    outcome = desk.unblock("u1")
    assert outcome.action.action == Action.UNBLOCK_USER
    assert rig.actions()[-1] == outcome.action
    pay(rig, detector, "next", "u1", 20.0, rig.clock.now_ms())
    assert decision(rig, "next") == ("APPROVE", [])


def test_resolving_the_alert_sends_the_analyst_label_to_the_detector(
    loop: tuple[Rig, DetectorWorker],
) -> None:
    rig, detector = loop
    processor = rig.worker()
    history(rig, detector, "u1")
    pay(rig, detector, "big", "u1", 5_000.0, rig.clock.now_ms())
    rig.drain(processor)
    [alert] = rig.read("fraud-alerts", "fraud-alerts")
    AlertDesk(rig.settings, rig.backends, rig.serde, rig.clock).resolve(
        alert["alert_id"], Label.FRAUD
    )
    feedback: list[dict[str, Any]] = rig.read("fraud-feedback", "fraud-feedback")
    assert [(f["transaction_id"], f["user_id"], f["label"], f["source"]) for f in feedback] == [
        ("big", "u1", "FRAUD", "ANALYST")
    ]
