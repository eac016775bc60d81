"""The user profile: a fixed-size binary record, one Redis string per user (``user:{id}``).

A fixed layout packs a user's behaviour into 252 bytes — sliding-window counters, running amount
statistics, last time and place, habits — so that a whole batch of profiles decodes with one
``np.frombuffer`` and the Redis value stays in jemalloc's 256-byte class (DESIGN target: at most
512 bytes of Redis memory per user, key and TTL included).

Sliding windows are rings of time buckets: slot ``b % n`` holds bucket ``b`` (``b`` = event time //
width). The newest bucket a profile holds follows from ``last_ts``, so a slot's bucket id never
needs storing: the window 1 h is six 10-minute buckets, 24 h is twelve 2-hour buckets, 7 d is seven
1-day buckets. Counts are exact for bursts inside the window and approximate to one bucket at
its far edge.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

VERSION = 1

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS

#: (field prefix, bucket width in ms, slots): the three window rings.
RINGS: tuple[tuple[str, int, int], ...] = (
    ("m10", 10 * MINUTE_MS, 6),  # 1 hour
    ("h2", 2 * HOUR_MS, 12),  # 24 hours
    ("d1", DAY_MS, 7),  # 7 days
)
MERCHANT_SLOTS = 6
DEVICE_SLOTS = 3
HOUR_BINS = 12  # two-hour bins of the hour of day

PROFILE_DTYPE = np.dtype(
    [
        ("version", "u1"),
        ("flags", "u1"),  # bit 0: the last transaction was card-present
        ("n_total", "<u4"),
        ("last_ts", "<i8"),  # newest event time seen (ms)
        ("mean_amount", "<f8"),  # Welford running mean and M2 of the amount
        ("m2_amount", "<f8"),
        ("last_lat", "<f4"),
        ("last_lon", "<f4"),
        ("m10_count", "<u2", (6,)),
        ("m10_sum", "<f4", (6,)),
        ("m10_small", "u1", (6,)),  # tiny amounts (card testing) per 10-minute bucket
        ("h2_count", "<u2", (12,)),
        ("h2_sum", "<f4", (12,)),
        ("d1_count", "<u2", (7,)),
        ("d1_sum", "<f4", (7,)),
        ("hour_hist", "u1", (HOUR_BINS,)),
        ("merchants", "<u4", (MERCHANT_SLOTS,)),  # hashes of recent merchants, 0 = empty
        ("devices", "<u4", (DEVICE_SLOTS,)),
        ("merchant_ptr", "u1"),
        ("device_ptr", "u1"),
        ("daily_day", "<i4"),  # days since the epoch of daily_count
        ("daily_count", "<u2"),
        ("fraud_labels", "<u2"),  # reserved for label-driven user state
    ]
)
PROFILE_SIZE = PROFILE_DTYPE.itemsize
FLAG_CARD_PRESENT = 1

assert PROFILE_SIZE == 252, PROFILE_SIZE  # the memory budget depends on it


def new_profiles(count: int) -> np.ndarray:
    """``count`` empty profiles (users never seen)."""
    profiles = np.zeros(count, dtype=PROFILE_DTYPE)
    profiles["last_lat"] = np.nan
    profiles["last_lon"] = np.nan
    return profiles


def decode_profiles(blobs: Sequence[bytes | None]) -> np.ndarray:
    """Profiles from their Redis values; a missing or foreign-version value is an empty profile."""
    profiles = new_profiles(len(blobs))
    present = [i for i, blob in enumerate(blobs) if blob is not None and len(blob) == PROFILE_SIZE]
    if present:
        raw = np.frombuffer(b"".join(blobs[i] for i in present), dtype=PROFILE_DTYPE)  # type: ignore[misc]
        current = raw["version"] == VERSION
        index = np.asarray(present)[current]
        profiles[index] = raw[current]
    return profiles


def encode_profiles(profiles: np.ndarray) -> list[bytes]:
    """One Redis value per profile, in order."""
    stamped = profiles.copy()
    stamped["version"] = VERSION
    buffer = stamped.tobytes()
    return [buffer[i : i + PROFILE_SIZE] for i in range(0, len(buffer), PROFILE_SIZE)]


def describe(profile: np.void) -> dict[str, object]:
    """A readable view of one profile (for `status`, the dashboard and debugging)."""
    n = int(profile["n_total"])
    variance = float(profile["m2_amount"]) / (n - 1) if n > 1 else 0.0
    return {
        "transactions": n,
        "last_event_time": int(profile["last_ts"]),
        "mean_amount": round(float(profile["mean_amount"]), 2),
        "std_amount": round(variance**0.5, 2),
        "last_location": [float(profile["last_lat"]), float(profile["last_lon"])],
        "daily_count": int(profile["daily_count"]),
        "recent_merchants": int(np.count_nonzero(profile["merchants"])),
        "recent_devices": int(np.count_nonzero(profile["devices"])),
    }
