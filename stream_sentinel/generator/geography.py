"""Where the simulated population lives: a fixed table of cities and great-circle distances.

Users live near a city, merchants trade in one; local hours come from the city's UTC offset and
amounts are in the merchant country's currency. Vectorised helpers work on numpy arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

EARTH_RADIUS_KM = 6371.0088
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class City:
    name: str
    country: str  # ISO 3166-1 alpha-2
    latitude: float
    longitude: float
    utc_offset_h: float
    weight: float  # share of the population living there (relative)


# A spread over continents and time zones, so the global stream has no single quiet hour.
CITIES: tuple[City, ...] = (
    City("New York", "US", 40.7128, -74.0060, -5, 9.0),
    City("Los Angeles", "US", 34.0522, -118.2437, -8, 6.0),
    City("Chicago", "US", 41.8781, -87.6298, -6, 4.0),
    City("Houston", "US", 29.7604, -95.3698, -6, 3.5),
    City("Miami", "US", 25.7617, -80.1918, -5, 2.5),
    City("Seattle", "US", 47.6062, -122.3321, -8, 2.0),
    City("Toronto", "CA", 43.6532, -79.3832, -5, 3.0),
    City("Vancouver", "CA", 49.2827, -123.1207, -8, 1.5),
    City("Mexico City", "MX", 19.4326, -99.1332, -6, 4.0),
    City("Sao Paulo", "BR", -23.5505, -46.6333, -3, 4.5),
    City("Buenos Aires", "AR", -34.6037, -58.3816, -3, 2.5),
    City("London", "GB", 51.5074, -0.1278, 0, 6.0),
    City("Manchester", "GB", 53.4808, -2.2426, 0, 1.5),
    City("Paris", "FR", 48.8566, 2.3522, 1, 5.0),
    City("Lyon", "FR", 45.7640, 4.8357, 1, 1.0),
    City("Berlin", "DE", 52.5200, 13.4050, 1, 3.5),
    City("Munich", "DE", 48.1351, 11.5820, 1, 1.5),
    City("Madrid", "ES", 40.4168, -3.7038, 1, 3.0),
    City("Barcelona", "ES", 41.3874, 2.1686, 1, 2.0),
    City("Rome", "IT", 41.9028, 12.4964, 1, 2.5),
    City("Milan", "IT", 45.4642, 9.1900, 1, 2.0),
    City("Amsterdam", "NL", 52.3676, 4.9041, 1, 1.5),
    City("Stockholm", "SE", 59.3293, 18.0686, 1, 1.0),
    City("Warsaw", "PL", 52.2297, 21.0122, 1, 1.5),
    City("Istanbul", "TR", 41.0082, 28.9784, 3, 3.0),
    City("Lagos", "NG", 6.5244, 3.3792, 1, 2.0),
    City("Nairobi", "KE", -1.2921, 36.8219, 3, 1.0),
    City("Johannesburg", "ZA", -26.2041, 28.0473, 2, 1.5),
    City("Dubai", "AE", 25.2048, 55.2708, 4, 1.5),
    City("Mumbai", "IN", 19.0760, 72.8777, 5.5, 4.0),
    City("Bangalore", "IN", 12.9716, 77.5946, 5.5, 2.5),
    City("Singapore", "SG", 1.3521, 103.8198, 8, 2.0),
    City("Bangkok", "TH", 13.7563, 100.5018, 7, 2.0),
    City("Jakarta", "ID", -6.2088, 106.8456, 7, 2.5),
    City("Hong Kong", "HK", 22.3193, 114.1694, 8, 2.0),
    City("Shanghai", "CN", 31.2304, 121.4737, 8, 3.0),
    City("Seoul", "KR", 37.5665, 126.9780, 9, 2.5),
    City("Tokyo", "JP", 35.6762, 139.6503, 9, 4.0),
    City("Sydney", "AU", -33.8688, 151.2093, 10, 2.5),
    City("Melbourne", "AU", -37.8136, 144.9631, 10, 1.5),
)

CURRENCY_BY_COUNTRY: dict[str, str] = {
    "US": "USD",
    "CA": "CAD",
    "MX": "MXN",
    "BR": "BRL",
    "AR": "ARS",
    "GB": "GBP",
    "FR": "EUR",
    "DE": "EUR",
    "ES": "EUR",
    "IT": "EUR",
    "NL": "EUR",
    "SE": "SEK",
    "PL": "PLN",
    "TR": "TRY",
    "NG": "NGN",
    "KE": "KES",
    "ZA": "ZAR",
    "AE": "AED",
    "IN": "INR",
    "SG": "SGD",
    "TH": "THB",
    "ID": "IDR",
    "HK": "HKD",
    "CN": "CNY",
    "KR": "KRW",
    "JP": "JPY",
    "AU": "AUD",
}

#: Country codes in first-appearance order: a city's country is an index into this tuple.
COUNTRIES: tuple[str, ...] = tuple(dict.fromkeys(city.country for city in CITIES))
CURRENCIES: tuple[str, ...] = tuple(dict.fromkeys(CURRENCY_BY_COUNTRY[c] for c in COUNTRIES))


@dataclass(frozen=True, slots=True)
class CityTable:
    """The city table as arrays, plus the pairwise distance matrix."""

    latitude: FloatArray
    longitude: FloatArray
    utc_offset_h: FloatArray
    weight: FloatArray  # normalised to sum 1
    country: npt.NDArray[np.int16]  # index into COUNTRIES
    currency: npt.NDArray[np.int16]  # index into CURRENCIES (of the city's country)
    distance_km: FloatArray  # (cities, cities)

    @property
    def size(self) -> int:
        return len(self.latitude)


def city_table() -> CityTable:
    lat = np.array([c.latitude for c in CITIES])
    lon = np.array([c.longitude for c in CITIES])
    weight = np.array([c.weight for c in CITIES])
    country = np.array([COUNTRIES.index(c.country) for c in CITIES], dtype=np.int16)
    currency = np.array(
        [CURRENCIES.index(CURRENCY_BY_COUNTRY[c.country]) for c in CITIES], dtype=np.int16
    )
    distance = haversine_km(lat[:, None], lon[:, None], lat[None, :], lon[None, :])
    return CityTable(
        latitude=lat,
        longitude=lon,
        utc_offset_h=np.array([c.utc_offset_h for c in CITIES]),
        weight=weight / weight.sum(),
        country=country,
        currency=currency,
        distance_km=distance,
    )


def haversine_km(
    lat1: FloatArray | float,
    lon1: FloatArray | float,
    lat2: FloatArray | float,
    lon2: FloatArray | float,
) -> FloatArray:
    """Great-circle distance in km, element-wise (broadcasting like numpy)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp, dl = p2 - p1, np.radians(np.asarray(lon2) - np.asarray(lon1))
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return np.asarray(2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0))))


def scatter_around(
    rng: np.random.Generator, lat: FloatArray, lon: FloatArray, radius_km: float
) -> tuple[FloatArray, FloatArray]:
    """Points scattered around (lat, lon) with a Gaussian spread, rounded to 1e-5 degrees."""
    d_lat = rng.normal(0.0, radius_km, len(lat)) / 111.0
    d_lon = rng.normal(0.0, radius_km, len(lat)) / (111.0 * np.cos(np.radians(lat)))
    return np.round(lat + d_lat, 5), np.round(lon + d_lon, 5)
