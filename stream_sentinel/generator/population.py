"""The simulated population: users, merchants, devices and cards as numpy arrays.

Everything is sized once from the number of users and never grows while a run goes on, so a
million users generate as fast at the end of a run as at the start. Ids are derived from array
positions (user 42 is ``u0000042``); :data:`ID_FORMATS` is what the encoders print.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from stream_sentinel.generator import catalog
from stream_sentinel.generator.geography import CityTable, city_table, scatter_around
from stream_sentinel.generator.sampling import WeightedIndex

F64 = npt.NDArray[np.float64]
F32 = npt.NDArray[np.float32]
I64 = npt.NDArray[np.int64]
I32 = npt.NDArray[np.int32]
I16 = npt.NDArray[np.int16]
I8 = npt.NDArray[np.int8]
U32 = npt.NDArray[np.uint32]

MAX_USERS = 10_000_000
_ESSENTIALS = ("grocery", "restaurant", "fuel", "atm")
FAVOURITES = 6  # five shops in the home city and one online shop
#: How a user spreads habitual purchases over their favourite slots.
FAVOURITE_SLOT_CDF = np.cumsum([0.32, 0.22, 0.16, 0.11, 0.09, 0.10])
DEVICES_PER_USER = 3  # device number = user * 3 + slot
FRAUD_DEVICE_BASE = 90_000_000  # fraudsters' devices are numbered from here: never a user's
#: (prefix, digits) of each id; the encoders and :meth:`Population.user_ids` share them.
ID_FORMATS: dict[str, tuple[str, int]] = {
    "user": ("u", 7),
    "merchant": ("m", 6),
    "device": ("d", 8),
}


@dataclass(slots=True)
class Users:
    home_city: I16
    home_lat: F64
    home_lon: F64
    spend_mu: F32  # log of the everyday ticket
    spend_sigma: F32
    peak_hour: F32  # local hour when the user shops most
    hour_spread: F32  # hours
    activity: WeightedIndex  # who transacts how often
    favourites: I32  # (users, FAVOURITES) merchant indexes
    habit: F32  # probability a purchase goes to a favourite
    devices: I8  # 1..3
    online_share: F32  # share of non-habitual purchases made online
    mobile_share: F32  # share of online purchases made in the mobile app
    card_types: I8  # (users, 2) codes into catalog.CARD_TYPES
    cards: I8  # 1 or 2
    home_ip: U32
    # Travel, the only per-user state that changes: where a trip goes and when.
    trip_city: I16
    trip_from: I64
    trip_until: I64

    @property
    def size(self) -> int:
        return len(self.home_city)


@dataclass(slots=True)
class Merchants:
    """Physical merchants first (sorted by city), then online shops."""

    city: I16
    lat: F64
    lon: F64
    category: I8
    online: npt.NDArray[np.bool_]
    ip: U32
    physical: int  # merchants [0, physical) have premises; the rest trade online
    city_start: I64  # physical merchants of city c are [city_start[c], city_start[c + 1])
    popularity_cdf: F64  # cumulative popularity, in merchant order
    popularity: F64

    @property
    def size(self) -> int:
        return len(self.city)


@dataclass(slots=True)
class Population:
    cities: CityTable
    users: Users
    merchants: Merchants
    mean_hour_acceptance: float  # activity-weighted mean of the users' hour-of-day profiles
    hour_floor: float

    def user_ids(self, users: npt.ArrayLike) -> list[str]:
        return _format_ids("user", users)

    def merchant_ids(self, merchants: npt.ArrayLike) -> list[str]:
        return _format_ids("merchant", merchants)

    def device_ids(self, devices: npt.ArrayLike) -> list[str]:
        return _format_ids("device", devices)


def _format_ids(kind: str, numbers: npt.ArrayLike) -> list[str]:
    prefix, digits = ID_FORMATS[kind]
    return [f"{prefix}{n:0{digits}d}" for n in np.asarray(numbers).tolist()]


def merchant_count(users: int) -> int:
    """About one merchant per 20 users, at least 400 (so every city has shops of each kind)."""
    return int(np.clip(users // 20, 400, 200_000))


def city_ip(rng: np.random.Generator, cities: npt.NDArray[np.integer]) -> U32:
    """An IPv4 address (as uint32) in the block that geolocates to each city."""
    first_octet = (20 + 5 * cities.astype(np.uint32)) << 24
    return (first_octet | rng.integers(0, 1 << 24, len(cities), dtype=np.uint32)).astype(np.uint32)


def build_population(users: int, rng: np.random.Generator, hour_floor: float = 0.03) -> Population:
    if not 1 <= users <= MAX_USERS:
        raise ValueError(f"users must be between 1 and {MAX_USERS:,}")
    cities = city_table()
    merchants = _build_merchants(merchant_count(users), cities, rng)
    people = _build_users(users, cities, merchants, rng)
    acceptance = _mean_hour_acceptance(people, hour_floor)
    return Population(cities, people, merchants, acceptance, hour_floor)


def _build_merchants(count: int, cities: CityTable, rng: np.random.Generator) -> Merchants:
    category = rng.choice(
        len(catalog.CATEGORIES), count, p=_normalised([c.weight for c in catalog.CATEGORIES])
    ).astype(np.int8)
    online_share = np.array([c.online_share for c in catalog.CATEGORIES])
    online = rng.random(count) < online_share[category]
    city = rng.choice(cities.size, count, p=cities.weight).astype(np.int16)
    # Every city gets a grocer, a restaurant, a fuel station and an ATM, whatever the draw.
    essentials = np.array([catalog.CATEGORY_CODE[n] for n in _ESSENTIALS], dtype=np.int8)
    forced = cities.size * len(essentials)
    city[:forced] = np.arange(forced) % cities.size
    category[:forced] = np.repeat(essentials, cities.size)
    online[:forced] = False
    online[-1], category[-1] = True, catalog.DIGITAL_GOODS  # always at least one online shop
    order = np.lexsort((city, online))  # physical first, each group sorted by city
    category, online, city = category[order], online[order], city[order]
    lat, lon = scatter_around(rng, cities.latitude[city], cities.longitude[city], 6.0)
    popularity = rng.lognormal(0.0, 1.0, count)
    physical = int((~online).sum())
    city_start = np.searchsorted(city[:physical], np.arange(cities.size + 1)).astype(np.int64)
    return Merchants(
        city=city,
        lat=lat,
        lon=lon,
        category=category,
        online=online,
        ip=city_ip(rng, city),
        physical=physical,
        city_start=city_start,
        popularity_cdf=np.cumsum(popularity),
        popularity=popularity,
    )


def _build_users(
    count: int, cities: CityTable, merchants: Merchants, rng: np.random.Generator
) -> Users:
    home_city = rng.choice(cities.size, count, p=cities.weight).astype(np.int16)
    home_lat, home_lon = scatter_around(
        rng, cities.latitude[home_city], cities.longitude[home_city], 8.0
    )
    chronotype = rng.choice(np.array([10.0, 13.0, 18.0, 20.5]), count, p=[0.2, 0.3, 0.3, 0.2])
    activity = rng.lognormal(0.0, 0.6, count)
    favourites = np.empty((count, FAVOURITES), dtype=np.int32)
    for slot in range(FAVOURITES - 1):
        favourites[:, slot] = physical_merchants_in(merchants, home_city, rng)
    favourites[:, FAVOURITES - 1] = online_merchants(merchants, count, rng)
    cards = (rng.random(count) < 0.35).astype(np.int8) + 1
    return Users(
        home_city=home_city,
        home_lat=home_lat,
        home_lon=home_lon,
        spend_mu=rng.normal(np.log(32.0), 0.5, count).astype(np.float32),
        spend_sigma=rng.uniform(0.35, 0.8, count).astype(np.float32),
        peak_hour=((chronotype + rng.normal(0.0, 1.2, count)) % 24).astype(np.float32),
        hour_spread=rng.uniform(2.0, 4.0, count).astype(np.float32),
        activity=WeightedIndex(activity),
        favourites=favourites,
        habit=rng.uniform(0.6, 0.92, count).astype(np.float32),
        devices=rng.choice(np.array([1, 2, 3], dtype=np.int8), count, p=[0.5, 0.35, 0.15]),
        online_share=rng.uniform(0.1, 0.5, count).astype(np.float32),
        mobile_share=rng.uniform(0.2, 0.8, count).astype(np.float32),
        card_types=rng.choice(
            np.array([catalog.CREDIT, catalog.DEBIT, catalog.PREPAID], dtype=np.int8),
            (count, 2),
            p=[0.55, 0.4, 0.05],
        ),
        cards=cards,
        home_ip=city_ip(rng, home_city),
        trip_city=np.full(count, -1, dtype=np.int16),
        trip_from=np.zeros(count, dtype=np.int64),
        trip_until=np.zeros(count, dtype=np.int64),
    )


def physical_merchants_in(
    merchants: Merchants, cities: npt.NDArray[np.integer], rng: np.random.Generator
) -> I32:
    """One shop with premises per entry of ``cities``, drawn by popularity within the city."""
    start = merchants.city_start[cities]
    end = merchants.city_start[cities.astype(np.int64) + 1]
    return _draw_by_popularity(merchants, start, end, rng)


def online_merchants(merchants: Merchants, count: int, rng: np.random.Generator) -> I32:
    """``count`` online shops, drawn by popularity."""
    start = np.full(count, merchants.physical, dtype=np.int64)
    end = np.full(count, merchants.size, dtype=np.int64)
    return _draw_by_popularity(merchants, start, end, rng)


def _draw_by_popularity(
    merchants: Merchants, start: I64, end: I64, rng: np.random.Generator
) -> I32:
    cdf = merchants.popularity_cdf
    low = np.where(start > 0, cdf[np.maximum(start - 1, 0)], 0.0)
    high = cdf[end - 1]
    picked = np.searchsorted(cdf, low + rng.random(len(start)) * (high - low), side="right")
    return np.clip(picked, start, end - 1).astype(np.int32)


def _mean_hour_acceptance(users: Users, floor: float) -> float:
    """E[p(hour)] under uniform time, weighted by activity: how thinning slows arrivals."""
    spread = users.hour_spread.astype(np.float64)
    # The profile is a Gaussian in circular hour distance, truncated at +-12 h.
    bell = spread * np.sqrt(2 * np.pi) * _erf(12.0 / (spread * np.sqrt(2))) / 24.0
    per_user = floor + (1.0 - floor) * bell
    weights = np.diff(users.activity.cdf, prepend=0.0)
    return float(np.average(per_user, weights=weights))


def _erf(x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """erf for x >= 0 (Abramowitz & Stegun 7.1.26, error below 1.5e-7)."""
    t = 1.0 / (1.0 + 0.3275911 * x)
    poly = t * (
        0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))
    )
    return np.asarray(1.0 - poly * np.exp(-x * x))


def _normalised(values: list[float]) -> npt.NDArray[np.float64]:
    array = np.asarray(values, dtype=np.float64)
    return array / array.sum()
