"""Legitimate users behave like their profiles say: near home, at favourites, on their devices,
at their hours, around their typical ticket."""

from __future__ import annotations

import numpy as np
import pytest

from stream_sentinel.generator import SimulationConfig, Simulator, TransactionBatch
from stream_sentinel.generator.behaviour import HOUR_MS
from stream_sentinel.generator.geography import haversine_km
from stream_sentinel.generator.population import DEVICES_PER_USER, build_population


@pytest.fixture(scope="module")
def legit() -> tuple[Simulator, TransactionBatch]:
    simulator = Simulator(SimulationConfig(users=2_000, fraud_rate=0.01), seed=4)
    batch = simulator.next_batch(120_000)
    return simulator, batch.take(~batch.is_fraud)


def test_most_transactions_happen_near_home(legit: tuple[Simulator, TransactionBatch]) -> None:
    simulator, batch = legit
    users = simulator.population.users
    km = haversine_km(
        batch.latitude, batch.longitude, users.home_lat[batch.user], users.home_lon[batch.user]
    )
    assert np.mean(km < 50) > 0.95  # the rest: trips


def test_users_mostly_shop_at_their_favourite_merchants(
    legit: tuple[Simulator, TransactionBatch],
) -> None:
    simulator, batch = legit
    favourites = simulator.population.users.favourites[batch.user]
    at_favourite = (favourites == batch.merchant[:, None]).any(axis=1)
    assert 0.6 < at_favourite.mean() < 0.92


def test_legitimate_payments_use_the_users_own_devices_mostly_the_first(
    legit: tuple[Simulator, TransactionBatch],
) -> None:
    simulator, batch = legit
    owner, slot = np.divmod(batch.device, DEVICES_PER_USER)
    assert np.array_equal(owner, batch.user)
    assert np.all(slot < simulator.population.users.devices[batch.user])
    assert np.mean(slot == 0) > 0.75


def test_users_shop_around_their_peak_hour(legit: tuple[Simulator, TransactionBatch]) -> None:
    simulator, batch = legit
    population = simulator.population
    users = population.users
    local = batch.timestamp / HOUR_MS + population.cities.utc_offset_h[users.home_city[batch.user]]
    distance = np.abs((local - users.peak_hour[batch.user] + 12) % 24 - 12)
    # Uniform hours would put a third within 4 h of the peak; habits put most there.
    assert np.mean(distance <= 4) > 0.6


def test_amounts_follow_each_users_typical_spend(legit: tuple[Simulator, TransactionBatch]) -> None:
    simulator, batch = legit
    users = simulator.population.users
    ratio = np.log(batch.amount / np.exp(users.spend_mu[batch.user].astype(np.float64)))
    # Everyday tickets: the median payment is within a factor 2 of the user's typical ticket.
    assert abs(np.median(ratio)) < np.log(2)
    heavy = users.spend_mu > np.quantile(users.spend_mu, 0.9)
    light = users.spend_mu < np.quantile(users.spend_mu, 0.1)
    assert np.median(batch.amount[heavy[batch.user]]) > 2 * np.median(
        batch.amount[light[batch.user]]
    )


def test_card_present_payments_happen_at_the_merchant(
    legit: tuple[Simulator, TransactionBatch],
) -> None:
    _, batch = legit
    present = np.isin(batch.channel, [1, 2])  # POS, ATM
    assert present.mean() > 0.4
    np.testing.assert_array_equal(batch.latitude[present], batch.merchant_latitude[present])
    np.testing.assert_array_equal(batch.country[present], batch.merchant_country[present])


def test_a_million_users_build_without_per_transaction_state() -> None:
    population = build_population(1_000_000, np.random.default_rng(0))
    assert population.users.size == 1_000_000
    assert population.users.favourites.shape == (1_000_000, 6)
    assert population.merchants.size == 50_000
