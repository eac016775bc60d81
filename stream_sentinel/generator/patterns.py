"""Fraud patterns as multi-event episodes, built vectorised for many victims at once.

Each builder returns the episode's transactions (pattern code set, rows unsorted); events may lie
beyond the current chunk, and the simulator keeps them pending until their time comes. What each
pattern looks like, and which behavioural features can see it:

- ``card_testing``: 4-8 tiny online payments at digital-goods shops within minutes from a new
  device far away, then one large one (velocity, tiny amounts, new merchant/device, distance).
- ``account_takeover``: 1-3 large online purchases of resellable goods from a new device in a
  distant city (new device, distance and implied speed, amount z-score).
- ``impossible_travel``: 1-2 card-present payments in a city thousands of km from where the
  user paid minutes earlier (distance / implied speed, new device).
- ``velocity_burst``: 8-15 online payments within 2-10 minutes (velocity counts and sums).
- ``high_amount_outlier``: one payment 15-50 times the user's everyday ticket, otherwise
  ordinary (amount vs running mean, z-score).
- ``compromised_merchant`` is not an episode: :mod:`.compromise` relabels a share of a
  compromised shop's ordinary traffic, visible only through merchant-level labels.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from stream_sentinel.generator import catalog
from stream_sentinel.generator.batch import TransactionBatch
from stream_sentinel.generator.behaviour import DEVICES_PER_USER, everyday_amounts, to_cents
from stream_sentinel.generator.geography import scatter_around
from stream_sentinel.generator.population import (
    FRAUD_DEVICE_BASE,
    Population,
    city_ip,
    physical_merchants_in,
)

I32 = npt.NDArray[np.int32]
I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
SECOND_MS, MINUTE_MS = 1000.0, 60_000.0
FRAUD_DEVICE_SPACE = 9_999_999  # fraud device numbers cycle below 10^8 (8-digit ids)
FAR_KM = 1500.0

#: Average events per episode, used to turn a deficit of fraud events into a number of episodes.
MEAN_EPISODE_SIZE: dict[int, float] = {
    catalog.CARD_TESTING: 7.0,
    catalog.ACCOUNT_TAKEOVER: 2.0,
    catalog.IMPOSSIBLE_TRAVEL: 1.5,
    catalog.VELOCITY_BURST: 11.5,
    catalog.HIGH_AMOUNT_OUTLIER: 1.0,
}
#: Mean time from an episode's scheduling point to its events (minutes): how far the fraud budget
#: must look ahead so that what has been *emitted* tracks the target, not what is still pending.
MEAN_EVENT_LEAD_MIN: dict[int, float] = {
    catalog.CARD_TESTING: 3.2,
    catalog.ACCOUNT_TAKEOVER: 5.3,
    catalog.IMPOSSIBLE_TRAVEL: 57.5,
    catalog.VELOCITY_BURST: 3.0,
    catalog.HIGH_AMOUNT_OUTLIER: 0.0,
}


@dataclass(slots=True)
class FraudContext:
    """What episode builders share: the population, the generator and merchant subsets."""

    population: Population
    rng: np.random.Generator
    next_device: int = 0
    digital_shops: I64 = field(init=False)
    high_value_shops: I64 = field(init=False)
    online_shops: I64 = field(init=False)

    def __post_init__(self) -> None:
        shops = self.population.merchants
        self.online_shops = np.flatnonzero(shops.online)
        digital = shops.online & (shops.category == catalog.DIGITAL_GOODS)
        valuable = shops.online & np.isin(shops.category, catalog.HIGH_VALUE)
        self.digital_shops = np.flatnonzero(digital) if digital.any() else self.online_shops
        self.high_value_shops = np.flatnonzero(valuable) if valuable.any() else self.online_shops

    def fraud_devices(self, count: int) -> I64:
        """Devices no user has ever used (one per episode)."""
        numbers = (self.next_device + np.arange(count)) % FRAUD_DEVICE_SPACE
        self.next_device = (self.next_device + count) % FRAUD_DEVICE_SPACE
        return (FRAUD_DEVICE_BASE + numbers).astype(np.int64)

    def pick(self, shops: I64, count: int) -> I32:
        return shops[self.rng.integers(0, len(shops), count)].astype(np.int32)

    def victims(self, count: int) -> I32:
        return self.population.users.activity.draw(self.rng, count)


@dataclass(frozen=True, slots=True)
class Episodes:
    """Episode-to-event expansion: ``episode[i]`` owns event i, ``position[i]`` is its place."""

    sizes: I64
    episode: I64
    position: I64

    @classmethod
    def of(cls, sizes: I64) -> Episodes:
        episode = np.repeat(np.arange(len(sizes)), sizes)
        first = np.cumsum(sizes) - sizes
        return cls(sizes, episode, np.arange(len(episode)) - first[episode])

    @property
    def last(self) -> npt.NDArray[np.bool_]:
        return self.position == self.sizes[self.episode] - 1

    def times(self, start_ms: F64, gaps_ms: F64) -> F64:
        """Event times from each episode's start and the gap before each event (first: 0)."""
        gaps = np.where(self.position == 0, 0.0, gaps_ms)
        total = np.cumsum(gaps)
        first = total[np.cumsum(self.sizes) - self.sizes]
        return np.asarray(start_ms[self.episode] + total - first[self.episode])


def far_cities(ctx: FraudContext, home: npt.NDArray[np.int16], min_km: float = FAR_KM) -> I64:
    """A city at least ``min_km`` from each home city (the farthest one if none is drawn)."""
    cities = ctx.population.cities
    picked = ctx.rng.choice(cities.size, len(home), p=cities.weight)
    for _ in range(6):
        near = cities.distance_km[home, picked] < min_km
        if not near.any():
            break
        picked[near] = ctx.rng.choice(cities.size, int(near.sum()), p=cities.weight)
    near = cities.distance_km[home, picked] < min_km
    picked[near] = np.argmax(cities.distance_km[home[near]], axis=1)
    return picked.astype(np.int64)


def _assemble(
    ctx: FraudContext,
    pattern: int,
    users: I32,
    times_ms: F64,
    merchant: I32,
    channel: npt.NDArray[np.int8],
    device: I64,
    cents: I64,
    remote_city: I64,
) -> TransactionBatch:
    """Fill in the fields every pattern derives the same way (remote: where the fraudster is)."""
    pop = ctx.population
    shops, cities = pop.merchants, pop.cities
    present = catalog.card_present(channel)
    remote_lat, remote_lon = scatter_around(
        ctx.rng, cities.latitude[remote_city], cities.longitude[remote_city], 10.0
    )
    merchant_city = shops.city[merchant]
    return TransactionBatch(
        seq=np.zeros(len(users), dtype=np.int64),
        user=users,
        amount_cents=cents,
        timestamp=times_ms.astype(np.int64),
        merchant=merchant,
        category=shops.category[merchant],
        channel=channel,
        card_type=pop.users.card_types[users, 0],
        device=device,
        ip=np.where(present, shops.ip[merchant], city_ip(ctx.rng, remote_city)).astype(np.uint32),
        latitude=np.where(present, shops.lat[merchant], remote_lat),
        longitude=np.where(present, shops.lon[merchant], remote_lon),
        merchant_latitude=shops.lat[merchant],
        merchant_longitude=shops.lon[merchant],
        country=np.where(present, cities.country[merchant_city], cities.country[remote_city]),
        merchant_country=cities.country[merchant_city],
        currency=cities.currency[merchant_city],
        pattern=np.full(len(users), pattern, dtype=np.int8),
    )


def _typical_cents(ctx: FraudContext, users: I32, low: float, high: float) -> I64:
    """The user's everyday ticket times a factor drawn from [low, high)."""
    ticket = np.exp(ctx.population.users.spend_mu[users].astype(np.float64))
    return to_cents(ticket * ctx.rng.uniform(low, high, len(users)))


def card_testing(ctx: FraudContext, count: int, window: tuple[float, float]) -> TransactionBatch:
    rng = ctx.rng
    ep = Episodes.of(rng.integers(4, 9, count) + 1)  # the tests, then the cash-out
    victims, start = ctx.victims(count), rng.uniform(*window, count)
    users, last = victims[ep.episode], ep.last
    gaps = np.where(
        last,
        rng.uniform(2, 10, len(users)) * MINUTE_MS,
        rng.uniform(10, 90, len(users)) * SECOND_MS,
    )
    tiny = np.where(rng.random(len(users)) < 0.5, 100, rng.integers(50, 300, len(users)))
    big = np.maximum(_typical_cents(ctx, users, 8, 25), 20_000)
    merchant = np.where(
        last, ctx.pick(ctx.high_value_shops, len(users)), ctx.pick(ctx.digital_shops, len(users))
    ).astype(np.int32)
    home = ctx.population.users.home_city[victims]
    return _assemble(
        ctx,
        catalog.CARD_TESTING,
        users,
        ep.times(start, gaps),
        merchant,
        np.full(len(users), catalog.ONLINE, dtype=np.int8),
        ctx.fraud_devices(count)[ep.episode],
        np.where(last, big, tiny).astype(np.int64),
        far_cities(ctx, home)[ep.episode],
    )


def account_takeover(
    ctx: FraudContext, count: int, window: tuple[float, float]
) -> TransactionBatch:
    rng = ctx.rng
    ep = Episodes.of(rng.integers(1, 4, count))
    victims, start = ctx.victims(count), rng.uniform(*window, count)
    users = victims[ep.episode]
    gaps = rng.uniform(1, 15, len(users)) * MINUTE_MS
    channel = np.where(rng.random(len(users)) < 0.5, catalog.MOBILE, catalog.ONLINE)
    home = ctx.population.users.home_city[victims]
    return _assemble(
        ctx,
        catalog.ACCOUNT_TAKEOVER,
        users,
        ep.times(start, gaps),
        ctx.pick(ctx.high_value_shops, len(users)),
        channel.astype(np.int8),
        ctx.fraud_devices(count)[ep.episode],
        _typical_cents(ctx, users, 8, 25),
        far_cities(ctx, home)[ep.episode],
    )


def impossible_travel(ctx: FraudContext, anchors: TransactionBatch) -> TransactionBatch:
    """A cloned card used far away shortly after each anchor (a real payment of the victim)."""
    rng, pop = ctx.rng, ctx.population
    count = len(anchors)
    ep = Episodes.of(rng.integers(1, 3, count))
    users = anchors.user[ep.episode]
    start = anchors.timestamp.astype(np.float64) + rng.uniform(10, 90, count) * MINUTE_MS
    gaps = rng.uniform(5, 40, len(users)) * MINUTE_MS
    anchor_city = pop.merchants.city[anchors.merchant]
    here = np.where(
        catalog.card_present(anchors.channel), anchor_city, pop.users.home_city[anchors.user]
    )
    city = far_cities(ctx, here.astype(np.int16), 2500.0)[ep.episode]
    merchant = physical_merchants_in(pop.merchants, city, rng)
    category = pop.merchants.category[merchant]
    channel = np.where(category == catalog.ATM, catalog.ATM_CHANNEL, catalog.POS).astype(np.int8)
    cents = everyday_amounts(pop, rng, users, category, rng.uniform(1.5, 4.0, len(users)))
    return _assemble(
        ctx,
        catalog.IMPOSSIBLE_TRAVEL,
        users,
        ep.times(start, gaps),
        merchant,
        channel,
        ctx.fraud_devices(count)[ep.episode],
        cents,
        city,
    )


def velocity_burst(ctx: FraudContext, count: int, window: tuple[float, float]) -> TransactionBatch:
    rng, pop = ctx.rng, ctx.population
    ep = Episodes.of(rng.integers(8, 16, count))
    victims, start = ctx.victims(count), rng.uniform(*window, count)
    users = victims[ep.episode]
    spacing = rng.uniform(2, 10, count) / ep.sizes  # minutes between payments in each burst
    gaps = rng.exponential(spacing[ep.episode]) * MINUTE_MS
    own = rng.random(count) < 0.5  # half from the victim's hijacked session, half from elsewhere
    device = np.where(own, victims.astype(np.int64) * DEVICES_PER_USER, ctx.fraud_devices(count))[
        ep.episode
    ]
    channel = np.where(rng.random(len(users)) < 0.5, catalog.MOBILE, catalog.ONLINE)
    home = pop.users.home_city[victims].astype(np.int64)
    remote = np.where(own, home, far_cities(ctx, pop.users.home_city[victims]))[ep.episode]
    batch = _assemble(
        ctx,
        catalog.VELOCITY_BURST,
        users,
        ep.times(start, gaps),
        ctx.pick(ctx.online_shops, len(users)),
        channel.astype(np.int8),
        device,
        _typical_cents(ctx, users, 1.0, 3.0),
        remote,
    )
    at_home = own[ep.episode]
    batch.latitude[at_home] = pop.users.home_lat[users[at_home]]
    batch.longitude[at_home] = pop.users.home_lon[users[at_home]]
    batch.ip[at_home] = pop.users.home_ip[users[at_home]]
    return batch


def high_amount_outlier(
    ctx: FraudContext, count: int, window: tuple[float, float]
) -> TransactionBatch:
    rng, pop = ctx.rng, ctx.population
    users, times = ctx.victims(count), rng.uniform(*window, count)
    home = pop.users.home_city[users]
    online = rng.random(count) < 0.5
    merchant = np.where(
        online,
        ctx.pick(ctx.high_value_shops, count),
        physical_merchants_in(pop.merchants, home, rng),
    ).astype(np.int32)
    category = pop.merchants.category[merchant]
    on_site = np.where(category == catalog.ATM, catalog.ATM_CHANNEL, catalog.POS)
    channel = np.where(pop.merchants.online[merchant], catalog.ONLINE, on_site).astype(np.int8)
    batch = _assemble(
        ctx,
        catalog.HIGH_AMOUNT_OUTLIER,
        users,
        times,
        merchant,
        channel,
        users.astype(np.int64) * DEVICES_PER_USER,
        _typical_cents(ctx, users, 15, 50),
        home.astype(np.int64),
    )
    batch.latitude[online] = pop.users.home_lat[users[online]]
    batch.longitude[online] = pop.users.home_lon[users[online]]
    batch.ip[online] = pop.users.home_ip[users[online]]
    return batch
