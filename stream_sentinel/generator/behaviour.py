"""Legitimate behaviour: each user shops at their hours, near home, mostly at their favourites.

Arrivals are a superposition of per-user Poisson processes, thinned by each user's hour-of-day
profile, so velocity, hour-of-day, novelty, distance and amount-vs-history features all carry
signal. Everything is vectorised over a chunk of events; the only per-user state that changes is
travel (a user on a trip shops in another city for a few days, like real people do).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from stream_sentinel.generator import catalog
from stream_sentinel.generator.batch import TransactionBatch
from stream_sentinel.generator.population import (
    DEVICES_PER_USER,
    FAVOURITE_SLOT_CDF,
    Population,
    city_ip,
    online_merchants,
    physical_merchants_in,
)
from stream_sentinel.generator.scenarios import LegitShift

HOUR_MS = 3_600_000.0
DAY_MS = 24 * HOUR_MS
PRIMARY_DEVICE_SHARE = 0.75
SECOND_CARD_SHARE = 0.2
TRIP_START_PROBABILITY = 0.0015  # per transaction: a trip every few months for a typical user
MIN_CENTS, MAX_CENTS = 50, 99_999_999


@dataclass(frozen=True, slots=True)
class Phase:
    """Where a chunk stands against the drift switch."""

    switch_ms: float  # +inf when the scenario never switches
    shift: LegitShift

    def after(self, times_ms: npt.NDArray[np.float64]) -> npt.NDArray[np.bool_]:
        return times_ms >= self.switch_ms


def arrivals(
    population: Population,
    rng: np.random.Generator,
    start_ms: float,
    count: int,
    rate_per_ms: float,
    phase: Phase,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int32]]:
    """The next ``count`` legitimate (time, user) pairs after ``start_ms``, in time order."""
    users = population.users
    candidate_rate = rate_per_ms / population.mean_hour_acceptance
    times: list[npt.NDArray[np.float64]] = []
    who: list[npt.NDArray[np.int32]] = []
    found, cursor = 0, start_ms
    while found < count:
        batch = int((count - found) / population.mean_hour_acceptance * 1.15) + 64
        candidate_times = cursor + np.cumsum(rng.exponential(1.0 / candidate_rate, batch))
        cursor = float(candidate_times[-1])
        candidates = users.activity.draw(rng, batch)
        keep = rng.random(batch) < hour_acceptance(population, candidates, candidate_times, phase)
        times.append(candidate_times[keep])
        who.append(candidates[keep])
        found += int(keep.sum())
    return np.concatenate(times)[:count], np.concatenate(who)[:count]


def hour_acceptance(
    population: Population,
    users: npt.NDArray[np.int32],
    times_ms: npt.NDArray[np.float64],
    phase: Phase,
) -> npt.NDArray[np.float64]:
    """How likely each user is to shop at that local hour (1 at their peak hour)."""
    people = population.users
    local_hour = times_ms / HOUR_MS + population.cities.utc_offset_h[people.home_city[users]]
    peak = people.peak_hour[users] + np.where(phase.after(times_ms), phase.shift.peak_hour_shift, 0)
    distance = np.abs((local_hour - peak + 12.0) % 24.0 - 12.0)
    spread = people.hour_spread[users]
    floor = population.hour_floor
    return floor + (1.0 - floor) * np.exp(-(distance**2) / (2.0 * spread**2))


def legit_batch(
    population: Population,
    rng: np.random.Generator,
    times_ms: npt.NDArray[np.float64],
    users: npt.NDArray[np.int32],
    phase: Phase,
) -> TransactionBatch:
    """Legitimate transactions of ``users`` at ``times_ms``, following each user's habits."""
    people, shops, cities = population.users, population.merchants, population.cities
    count = len(users)
    after = phase.after(times_ms)
    on_trip = (people.trip_from[users] <= times_ms) & (times_ms < people.trip_until[users])
    city = np.where(on_trip, people.trip_city[users], people.home_city[users])
    merchant = _choose_merchants(population, rng, users, city, on_trip, after, phase.shift)
    category = shops.category[merchant]
    channel = _channels(population, rng, users, merchant)
    present = catalog.card_present(channel)
    slot = np.where(
        rng.random(count) < PRIMARY_DEVICE_SHARE, 0, rng.integers(0, people.devices[users])
    )
    second_card = (people.cards[users] == 2) & (rng.random(count) < SECOND_CARD_SHARE)
    spend = np.where(after, phase.shift.spend_multiple, 1.0)
    online_lat = np.where(on_trip, cities.latitude[city], people.home_lat[users])
    online_lon = np.where(on_trip, cities.longitude[city], people.home_lon[users])
    online_ip = np.where(on_trip, city_ip(rng, np.maximum(city, 0)), people.home_ip[users])
    merchant_city = shops.city[merchant]
    return TransactionBatch(
        seq=np.zeros(count, dtype=np.int64),
        user=users,
        amount_cents=everyday_amounts(population, rng, users, category, spend),
        timestamp=times_ms.astype(np.int64),
        merchant=merchant,
        category=category,
        channel=channel,
        card_type=people.card_types[users, second_card.astype(np.int64)],
        device=users.astype(np.int64) * DEVICES_PER_USER + slot,
        ip=np.where(present, shops.ip[merchant], online_ip).astype(np.uint32),
        latitude=np.where(present, shops.lat[merchant], online_lat),
        longitude=np.where(present, shops.lon[merchant], online_lon),
        merchant_latitude=shops.lat[merchant],
        merchant_longitude=shops.lon[merchant],
        country=np.where(present, cities.country[merchant_city], cities.country[city]),
        merchant_country=cities.country[merchant_city],
        currency=cities.currency[merchant_city],
        pattern=np.zeros(count, dtype=np.int8),
    )


def _choose_merchants(
    population: Population,
    rng: np.random.Generator,
    users: npt.NDArray[np.int32],
    city: npt.NDArray[np.int16],
    on_trip: npt.NDArray[np.bool_],
    after: npt.NDArray[np.bool_],
    shift: LegitShift,
) -> npt.NDArray[np.int32]:
    """A favourite most of the time; otherwise an online shop or a shop in the current city."""
    people, shops = population.users, population.merchants
    count = len(users)
    slot = np.searchsorted(FAVOURITE_SLOT_CDF, rng.random(count) * FAVOURITE_SLOT_CDF[-1])
    favourite = people.favourites[users, np.minimum(slot, FAVOURITE_SLOT_CDF.size - 1)]
    habitual = (rng.random(count) < people.habit[users]) & ~on_trip
    online_share = people.online_share[users] + np.where(after, shift.online_boost, 0.0)
    online = rng.random(count) < online_share
    local = physical_merchants_in(shops, city, rng)
    elsewhere = np.where(online, online_merchants(shops, count, rng), local)
    return np.where(habitual, favourite, elsewhere).astype(np.int32)


def _channels(
    population: Population,
    rng: np.random.Generator,
    users: npt.NDArray[np.int32],
    merchant: npt.NDArray[np.int32],
) -> npt.NDArray[np.int8]:
    shops = population.merchants
    mobile = rng.random(len(users)) < population.users.mobile_share[users]
    remote = np.where(mobile, catalog.MOBILE, catalog.ONLINE)
    on_site = np.where(shops.category[merchant] == catalog.ATM, catalog.ATM_CHANNEL, catalog.POS)
    return np.where(shops.online[merchant], remote, on_site).astype(np.int8)


def everyday_amounts(
    population: Population,
    rng: np.random.Generator,
    users: npt.NDArray[np.int32],
    category: npt.NDArray[np.int8],
    multiple: npt.NDArray[np.float64] | float = 1.0,
) -> npt.NDArray[np.int64]:
    """Cents drawn from each user's lognormal spend, scaled by category; cash in twenties."""
    people = population.users
    z = rng.standard_normal(len(users))
    amount = np.exp(people.spend_mu[users] + people.spend_sigma[users] * z)
    amount = amount * catalog.AMOUNT_MULTIPLE[category] * multiple
    cash = np.maximum(np.round(amount / 20.0), 1.0) * 20.0
    amount = np.where(category == catalog.ATM, cash, amount)
    return to_cents(amount)


def to_cents(amount: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
    return np.clip(np.round(amount * 100.0), MIN_CENTS, MAX_CENTS).astype(np.int64)


def start_trips(population: Population, rng: np.random.Generator, batch: TransactionBatch) -> None:
    """Some users leave on a trip: after a travel gap they shop in another city for days."""
    people = population.users
    starts = rng.random(len(batch)) < TRIP_START_PROBABILITY
    users = batch.user[starts]
    at = batch.timestamp[starts]
    travelling = (people.trip_from[users] <= at) & (at < people.trip_until[users])
    users, at = users[~travelling], at[~travelling]
    cities = population.cities
    destination = rng.choice(cities.size, len(users), p=cities.weight).astype(np.int16)
    same = destination == people.home_city[users]
    destination[same] = (destination[same] + 1) % cities.size
    departure = at + rng.uniform(4, 12, len(users)) * HOUR_MS
    people.trip_city[users] = destination
    people.trip_from[users] = departure.astype(np.int64)
    people.trip_until[users] = (departure + rng.uniform(2, 7, len(users)) * DAY_MS).astype(np.int64)
