"""Fraud-rate control and the fraud patterns: present, named, and shaped as documented."""

from __future__ import annotations

import csv
import gzip
import io
import itertools
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from stream_sentinel.generator import (
    PATTERNS,
    SimulationConfig,
    Simulator,
    TransactionBatch,
    catalog,
)
from stream_sentinel.generator.file_sink import FileSink
from stream_sentinel.generator.geography import haversine_km
from stream_sentinel.generator.population import DEVICES_PER_USER, FRAUD_DEVICE_BASE


def _run(users: int, fraud_rate: float, count: int, seed: int = 5, **extra: object) -> Simulator:
    simulator = Simulator(SimulationConfig(users=users, fraud_rate=fraud_rate, **extra), seed=seed)  # type: ignore[arg-type]
    served = 0
    while served < count:
        served += len(simulator.next_batch(min(50_000, count - served)))
    return simulator


@pytest.mark.parametrize(
    ("users", "fraud_rate", "count"),
    [
        (200, 0.01, 200_000),
        (10_000, 0.01, 200_000),
        (10_000, 0.001, 500_000),
        (1_000_000, 0.01, 200_000),
        (50_000, 0.05, 200_000),
        (5_000, 0.3, 200_000),
    ],
)
def test_realised_fraud_rate_tracks_the_target(users: int, fraud_rate: float, count: int) -> None:
    stats = _run(users, fraud_rate, count).stats
    assert stats.events == count
    # Within 3% of the target rate (relative), whatever the population or rate.
    assert abs(stats.realised_fraud_rate - fraud_rate) <= 0.03 * fraud_rate


def test_zero_fraud_rate_gives_no_fraud() -> None:
    stats = _run(2_000, 0.0, 50_000).stats
    assert stats.fraud == 0


def test_every_pattern_appears_with_its_name_in_the_file(tmp_path: Path) -> None:
    simulator = Simulator(SimulationConfig(users=2_000, fraud_rate=0.02), seed=11)
    path = tmp_path / "tx.csv.gz"
    sink = FileSink(path, simulator.id_prefix)
    sink.write(simulator.next_batch(60_000))
    sink.close()
    with gzip.open(path, "rt", newline="") as handle:
        rows = list(csv.DictReader(handle))
    names = Counter(row["fraud_pattern"] for row in rows)
    assert set(names) == {"", *PATTERNS}
    assert all(row["is_fraud"] == ("1" if row["fraud_pattern"] else "0") for row in rows)
    assert sum(n for name, n in names.items() if name) == simulator.stats.fraud
    assert {p: names[p] for p in PATTERNS} == simulator.stats.pattern_counts()


@pytest.fixture(scope="module")
def sample() -> tuple[Simulator, TransactionBatch]:
    simulator = Simulator(SimulationConfig(users=3_000, fraud_rate=0.03), seed=21)
    return simulator, simulator.next_batch(150_000)


def _of(batch: TransactionBatch, pattern: int) -> TransactionBatch:
    return batch.take(batch.pattern == pattern)


def _episodes(batch: TransactionBatch, gap_ms: int) -> list[TransactionBatch]:
    """Runs of one user's events separated by less than ``gap_ms``."""
    order = np.lexsort((batch.timestamp, batch.user))
    ordered = batch.take(order)
    breaks = (np.diff(ordered.user) != 0) | (np.diff(ordered.timestamp) > gap_ms)
    bounds = np.r_[0, np.flatnonzero(breaks) + 1, len(ordered)]
    return [ordered.take(slice(a, b)) for a, b in itertools.pairwise(bounds)]


def test_card_testing_is_tiny_payments_then_a_large_one(
    sample: tuple[Simulator, TransactionBatch],
) -> None:
    _, batch = sample
    episodes = _episodes(_of(batch, catalog.CARD_TESTING), gap_ms=30 * 60_000)
    shaped = [
        e
        for e in episodes
        if len(e) >= 5 and e.amount_cents[:-1].max() < 300 and e.amount_cents[-1] >= 20_000
    ]
    assert len(shaped) >= 0.9 * len(episodes)
    testing = _of(batch, catalog.CARD_TESTING)
    assert np.all(testing.channel == catalog.ONLINE)
    assert np.all(testing.device >= FRAUD_DEVICE_BASE)


def test_account_takeover_comes_from_a_new_device_far_from_home_for_large_amounts(
    sample: tuple[Simulator, TransactionBatch],
) -> None:
    simulator, batch = sample
    takeover = _of(batch, catalog.ACCOUNT_TAKEOVER)
    users = simulator.population.users
    distance = haversine_km(
        takeover.latitude,
        takeover.longitude,
        users.home_lat[takeover.user],
        users.home_lon[takeover.user],
    )
    typical = np.exp(users.spend_mu[takeover.user].astype(np.float64)) * 100
    assert np.all(takeover.device >= FRAUD_DEVICE_BASE)
    assert np.all(distance > 1000)
    assert np.all(takeover.amount_cents >= 7.9 * typical)


def test_impossible_travel_is_card_present_too_far_for_the_time(
    sample: tuple[Simulator, TransactionBatch],
) -> None:
    _, batch = sample
    order = np.lexsort((batch.seq, batch.user))
    ordered = batch.take(order)
    first_of_user = np.r_[True, np.diff(ordered.user) != 0]
    travel = np.flatnonzero((ordered.pattern == catalog.IMPOSSIBLE_TRAVEL) & ~first_of_user)
    previous = travel - 1
    km = haversine_km(
        ordered.latitude[previous],
        ordered.longitude[previous],
        ordered.latitude[travel],
        ordered.longitude[travel],
    )
    hours = np.maximum(ordered.timestamp[travel] - ordered.timestamp[previous], 60_000) / 3.6e6
    assert np.all(catalog.card_present(ordered.channel[travel]))
    # The first payment of each episode is thousands of km from the one before it.
    starts = ordered.pattern[previous] != catalog.IMPOSSIBLE_TRAVEL
    assert np.mean(km[starts] / hours[starts] > 900) > 0.95


def test_velocity_burst_packs_many_payments_into_minutes(
    sample: tuple[Simulator, TransactionBatch],
) -> None:
    _, batch = sample
    episodes = _episodes(_of(batch, catalog.VELOCITY_BURST), gap_ms=10 * 60_000)
    sizes = np.array([len(e) for e in episodes])
    spans = np.array([e.timestamp[-1] - e.timestamp[0] for e in episodes])
    assert np.median(sizes) >= 8
    assert np.mean(spans <= 15 * 60_000) > 0.95


def test_high_amount_outlier_is_far_above_the_users_norm_from_their_own_device(
    sample: tuple[Simulator, TransactionBatch],
) -> None:
    simulator, batch = sample
    outlier = _of(batch, catalog.HIGH_AMOUNT_OUTLIER)
    typical = np.exp(simulator.population.users.spend_mu[outlier.user].astype(np.float64)) * 100
    assert np.all(outlier.amount_cents >= 14.9 * typical)
    assert np.all(outlier.device // DEVICES_PER_USER == outlier.user)


def test_compromised_merchant_fraud_looks_like_the_shops_ordinary_traffic(
    sample: tuple[Simulator, TransactionBatch],
) -> None:
    _, batch = sample
    compromised = _of(batch, catalog.COMPROMISED_MERCHANT)
    # The users' own devices and habits; only where it happens is special: a few shops where,
    # while they are compromised, a high share of the payments are fraudulent.
    assert np.all(compromised.device // DEVICES_PER_USER == compromised.user)
    shops, counts = np.unique(compromised.merchant, return_counts=True)
    assert len(shops) < 0.1 * len(compromised)
    shares = []
    for shop in shops[counts >= 10]:
        fraud_times = compromised.timestamp[compromised.merchant == shop]
        during = (
            (batch.merchant == shop)
            & (batch.timestamp >= fraud_times.min())
            & (batch.timestamp <= fraud_times.max())
        )
        shares.append((batch.pattern[during] == catalog.COMPROMISED_MERCHANT).mean())
    assert len(shares) >= 5
    assert np.median(shares) > 0.2


def test_fraud_never_appears_in_the_transaction_itself(
    sample: tuple[Simulator, TransactionBatch],
) -> None:
    simulator, batch = sample
    [transaction] = simulator.transactions(batch.take(batch.is_fraud).take(slice(0, 1)))
    assert transaction.metadata == {}
    text = io.StringIO(repr(transaction)).getvalue()
    assert not any(name in text for name in PATTERNS)
