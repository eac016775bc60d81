"""What the console's tests share: a seeded pipeline's records, users, logging in, forms.

``seed`` writes what the pipeline would have written for two users — a Transaction, its
FraudScore and FraudAlert on the topics, the alert processor's records and case queues (by
running the real alert processor), a profile and a merchant hash in Redis — through whichever
backends it is given, embedded or real.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from stream_sentinel.alerts.processor import AlertWorker
from stream_sentinel.clients.backends import Backends
from stream_sentinel.clock import Clock
from stream_sentinel.config import Settings
from stream_sentinel.console.users import Role, UserBook
from stream_sentinel.domain import (
    Action,
    Channel,
    Contribution,
    Decision,
    FraudAlert,
    FraudScore,
    RiskLevel,
    Transaction,
)
from stream_sentinel.logic import profile as layout
from stream_sentinel.state import keys
from stream_sentinel.state.base import Batch
from stream_sentinel.transport.topics import Topics
from stream_sentinel.wire import records
from stream_sentinel.wire.serde import Serde

T0 = 1_700_000_000_000
PASSWORD = "correct horse battery"
FAST_COST = 2**4  # the tests' hashes: same scheme, cheap to check
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
#: Every page of the console, with the seeded records to show.
PAGES = [
    "/",
    "/kafka",
    "/kafka/topics/transactions",
    "/schemas",
    "/schemas/transactions-value",
    "/redis",
    "/redis?ns=pipeline&pattern=control:*",
    "/redis/key?ns=profiles&key=user:u-crit",
    "/alerts",
    "/cases",
    "/cases/al-crit",
    "/trace",
    "/trace?transaction_id=tx-crit",
    "/audit",
    "/models",
    "/drift",
    "/experiments",
]


@dataclass(frozen=True)
class Seeded:
    critical: FraudAlert  # user u-crit: blocked, an open CRITICAL case
    high: FraudAlert  # user u-high: step-up, an open HIGH case
    transaction: Transaction  # the critical alert's transaction
    score: FraudScore


def users() -> UserBook:
    book = UserBook()
    for name, role in (("vera", Role.VIEWER), ("ana", Role.ANALYST), ("adam", Role.ADMIN)):
        book.add(name, role, PASSWORD, cost=FAST_COST)
    return book


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "no CSRF token in the page"
    return found.group(1)


def transaction(tx_id: str, user: str, now: int) -> Transaction:
    return Transaction(
        transaction_id=tx_id,
        user_id=user,
        amount=480.0,
        timestamp=now - 900,
        currency="EUR",
        merchant_id="m7",
        merchant_category="electronics",
        channel=Channel.ONLINE,
        country="FR",
    )


def _score(tx: Transaction, now: int, risk: RiskLevel) -> FraudScore:
    return FraudScore(
        transaction_id=tx.transaction_id,
        user_id=tx.user_id,
        merchant_id=tx.merchant_id,
        amount=tx.amount,
        event_time=tx.timestamp,
        produced_time=now - 800,
        decided_time=now - 790,
        score=0.96,
        risk_level=risk,
        decision=Decision.DECLINE if risk is RiskLevel.CRITICAL else Decision.REVIEW,
        model_version="m-test-1",
        reasons=["impossible_travel", "high_amount"],
        contributions=[Contribution("amount_zscore", 0.41), Contribution("geo_speed", 0.33)],
    )


def _alert(alert_id: str, score: FraudScore, now: int) -> FraudAlert:
    return FraudAlert(
        alert_id=alert_id,
        transaction_id=score.transaction_id,
        user_id=score.user_id,
        merchant_id=score.merchant_id,
        amount=score.amount,
        score=score.score,
        severity=score.risk_level,
        reasons=list(score.reasons),
        contributions=list(score.contributions),
        recommended_actions=[Action.BLOCK_USER],
        event_time=score.event_time,
        produced_time=score.produced_time,
        alert_time=now - 780,
    )


def profile_blob(now: int) -> bytes:
    """A profile with known fields: 3 transactions, the newest at ``now - 900``."""
    profile = layout.new_profiles(1)
    profile["n_total"] = 3
    profile["last_ts"] = now - 900
    profile["mean_amount"] = 160.0
    profile["m2_amount"] = 800.0
    profile["last_lat"], profile["last_lon"] = 48.85, 2.35
    slot = ((now - 900) // (10 * layout.MINUTE_MS)) % 6
    profile["m10_count"][0, slot] = 3
    profile["m10_sum"][0, slot] = 480.0
    profile["merchants"][0, 0] = 12345
    return layout.encode_profiles(profile)[0]


def publish(
    backends: Backends, serde: Serde, topics: Topics, logical: str, items: list[object]
) -> None:
    encode = serde.encoder(logical)
    producer = backends.broker.producer()
    for item in items:
        user = item.user_id
        producer.produce(topics.name(logical), encode(records.to_dict(item)), user.encode())
    assert producer.flush(30.0) == 0
    producer.close()


def seed(
    settings: Settings,
    backends: Backends,
    serde: Serde,
    clock: Clock,
    until: Callable[[Callable[[], bool]], None],
) -> Seeded:
    """Write a small pipeline's worth of records; ``until`` waits (bounded) for a condition."""
    topics = Topics.from_settings(settings)
    now = clock.now_ms()
    tx_crit, tx_high = (
        transaction("tx-crit", "u-crit", now),
        transaction("tx-high", "u-high", now),
    )
    score_crit, score_high = (
        _score(tx_crit, now, RiskLevel.CRITICAL),
        _score(tx_high, now, RiskLevel.HIGH),
    )
    critical, high = _alert("al-crit", score_crit, now), _alert("al-high", score_high, now)
    publish(backends, serde, topics, "transactions", [tx_crit, tx_high])
    publish(backends, serde, topics, "fraud-scores", [score_crit, score_high])
    publish(backends, serde, topics, "fraud-alerts", [critical, high])
    worker = AlertWorker(settings, backends, serde, clock=clock)
    worker.start()
    try:
        handled = [0]

        def both_handled() -> bool:
            handled[0] += worker.poll()
            return handled[0] >= 2

        until(both_handled)
    finally:
        worker.close()
    backends.state.execute(
        Batch()
        .set(keys.PROFILES, keys.user_profile("u-crit"), profile_blob(now))
        .hset(
            keys.PIPELINE,
            keys.merchant("m7"),
            {f"n:{now // layout.DAY_MS}": 2, f"f:{now // layout.DAY_MS}": 1},
        )
        .hincrby(keys.PIPELINE, keys.DEAD_LETTER_COUNTS, "schema_mismatch", 2)
    )
    return Seeded(critical, high, tx_crit, score_crit)
