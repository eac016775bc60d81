"""The user profile: a fixed-size binary record, one Redis string per user (``user:{id}``).

A fixed layout packs a user's behaviour into 250 bytes — sliding-window counters, running amount
statistics, last time and place, habits — so that a whole batch of profiles decodes with one
``np.frombuffer`` and the Redis value stays in jemalloc's 256-byte class (a string's header and
terminator take 4 bytes, so 252 is the most that fits; DESIGN target: at most 512 bytes of Redis
memory per user, key and TTL included).

Sliding windows are rings of time buckets: slot ``b % n`` holds bucket ``b`` (``b`` = event time //
width). The newest bucket a profile holds follows from ``last_ts``, so a slot's bucket id never
needs storing: the window 1 h is six 10-minute buckets, 24 h is eight 3-hour buckets, 7 d is seven
1-day buckets, 30 d is five 6-day buckets. Counts are exact for bursts inside the window and
approximate to one bucket at its far edge. The day's count is read from the 24-hour ring (3-hour
buckets never straddle midnight), so it needs no field of its own.

Version 2 (this one) added the 30-day ring; version-1 values still in Redis are migrated on read
(:mod:`stream_sentinel.logic.profile_v1`) and written back as version 2.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from stream_sentinel.logic import profile_v1

VERSION = 2

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS

#: (field prefix, bucket width in ms, slots): the four window rings.
RINGS: tuple[tuple[str, int, int], ...] = (
    ("m10", 10 * MINUTE_MS, 6),  # 1 hour
    ("h3", 3 * HOUR_MS, 8),  # 24 hours
    ("d1", DAY_MS, 7),  # 7 days
    ("d6", 6 * DAY_MS, 5),  # 30 days
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
        ("h3_count", "<u2", (8,)),
        ("h3_sum", "<f4", (8,)),
        ("d1_count", "<u2", (7,)),
        ("d1_sum", "<f4", (7,)),
        ("d6_count", "<u2", (5,)),
        ("d6_sum", "<f4", (5,)),
        ("hour_hist", "u1", (HOUR_BINS,)),
        ("merchants", "<u4", (MERCHANT_SLOTS,)),  # hashes of recent merchants, 0 = empty
        ("devices", "<u4", (DEVICE_SLOTS,)),
        ("merchant_ptr", "u1"),
        ("device_ptr", "u1"),
    ]
)
PROFILE_SIZE = PROFILE_DTYPE.itemsize
FLAG_CARD_PRESENT = 1

assert PROFILE_SIZE == 250, PROFILE_SIZE  # the memory budget depends on it (at most 252)


def new_profiles(count: int) -> np.ndarray:
    """``count`` empty profiles (users never seen)."""
    profiles = np.zeros(count, dtype=PROFILE_DTYPE)
    profiles["last_lat"] = np.nan
    profiles["last_lon"] = np.nan
    return profiles


def decode_profiles(blobs: Sequence[bytes | None]) -> np.ndarray:
    """Profiles from their Redis values; a version-1 value is migrated (:func:`profile_v1.migrate`);
    a missing or foreign value is an empty profile."""
    profiles = new_profiles(len(blobs))
    present = [i for i, blob in enumerate(blobs) if blob is not None and len(blob) == PROFILE_SIZE]
    if present:
        raw = np.frombuffer(b"".join(blobs[i] for i in present), dtype=PROFILE_DTYPE)  # type: ignore[misc]
        current = raw["version"] == VERSION
        index = np.asarray(present)[current]
        profiles[index] = raw[current]
    old = [i for i, blob in enumerate(blobs) if profile_v1.is_v1(blob)]
    if old:
        index = np.asarray(old)
        profiles[index] = profile_v1.migrate([blobs[i] for i in old], profiles[index], RINGS)  # type: ignore[misc]
    return profiles


def is_profile(blob: bytes | None) -> bool:
    """Whether ``blob`` is a profile value this version reads (its own, or a version 1)."""
    return (
        blob is not None and len(blob) == PROFILE_SIZE and blob[0] == VERSION
    ) or profile_v1.is_v1(blob)


def today_count(profiles: np.ndarray, ts: np.ndarray) -> np.ndarray:
    """Each profile's count of transactions on ``ts``'s day (event time), from the 24-hour ring;
    0 for a day other than the newest one seen (a later day has not started, a late event's day
    is no longer "today")."""
    _, width, slots = RINGS[1]
    newest = (profiles["last_ts"] // width)[:, None]
    bucket = newest - ((newest - np.arange(slots)) % slots)
    day = (ts // DAY_MS)[:, None]
    same_day = (bucket * width) // DAY_MS == day
    counted = (profiles["h3_count"] * same_day).sum(axis=1)
    newest_day = profiles["last_ts"] // DAY_MS
    return np.where((profiles["n_total"] > 0) & (newest_day == day[:, 0]), counted, 0)


def encode_profiles(profiles: np.ndarray) -> list[bytes]:
    """One Redis value per profile, in order."""
    stamped = profiles.copy()
    stamped["version"] = VERSION
    buffer = stamped.tobytes()
    return [buffer[i : i + PROFILE_SIZE] for i in range(0, len(buffer), PROFILE_SIZE)]


def describe(profile: np.void) -> dict[str, object]:
    """A readable view of one profile (for `status`, the dashboard and debugging)."""
    n = int(profile["n_total"])
    one = np.asarray(profile).reshape(1)
    variance = float(profile["m2_amount"]) / (n - 1) if n > 1 else 0.0
    return {
        "transactions": n,
        "last_event_time": int(profile["last_ts"]),
        "mean_amount": round(float(profile["mean_amount"]), 2),
        "std_amount": round(variance**0.5, 2),
        "last_location": [float(profile["last_lat"]), float(profile["last_lon"])],
        "daily_count": int(today_count(one, one["last_ts"])[0]),
        "recent_merchants": int(np.count_nonzero(profile["merchants"])),
        "recent_devices": int(np.count_nonzero(profile["devices"])),
    }
