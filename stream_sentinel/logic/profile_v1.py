"""The version-1 profile layout, read so that a running system's state survives the upgrade.

Version 1 (252 bytes) had a 24-hour ring of twelve 2-hour buckets, no 30-day ring, and the day's
count in fields of its own. :func:`migrate` turns such values into version-2 profiles:

- every field both versions share is copied as it is (counts, amount statistics, last time and
  place, the 1-hour and 7-day rings, habits, recent merchants and devices);
- each 2-hour bucket of the 24-hour ring moves into the 3-hour bucket its start falls in (so a
  count can seem up to an hour older than it was; none is lost while it is within 24 hours);
- the 30-day ring starts from the 7-day ring: each day moves into its 6-day bucket, so the
  30-day window holds the user's last 7 days and fills up over the next 30;
- the day's count is what the 24-hour ring holds for the newest day (version 1 kept it apart).

The detector writes every profile it changes as version 2; untouched values expire (35 days).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

VERSION = 1
V1_DTYPE = np.dtype(
    [
        ("version", "u1"),
        ("flags", "u1"),
        ("n_total", "<u4"),
        ("last_ts", "<i8"),
        ("mean_amount", "<f8"),
        ("m2_amount", "<f8"),
        ("last_lat", "<f4"),
        ("last_lon", "<f4"),
        ("m10_count", "<u2", (6,)),
        ("m10_sum", "<f4", (6,)),
        ("m10_small", "u1", (6,)),
        ("h2_count", "<u2", (12,)),
        ("h2_sum", "<f4", (12,)),
        ("d1_count", "<u2", (7,)),
        ("d1_sum", "<f4", (7,)),
        ("hour_hist", "u1", (12,)),
        ("merchants", "<u4", (6,)),
        ("devices", "<u4", (3,)),
        ("merchant_ptr", "u1"),
        ("device_ptr", "u1"),
        ("daily_day", "<i4"),
        ("daily_count", "<u2"),
        ("fraud_labels", "<u2"),
    ]
)
V1_SIZE = V1_DTYPE.itemsize
V1_RING = (2 * 3_600_000, 12)  # the 24-hour ring's bucket width (ms) and slots
_SHARED = (
    "flags",
    "n_total",
    "last_ts",
    "mean_amount",
    "m2_amount",
    "last_lat",
    "last_lon",
    "m10_count",
    "m10_sum",
    "m10_small",
    "d1_count",
    "d1_sum",
    "hour_hist",
    "merchants",
    "devices",
    "merchant_ptr",
    "device_ptr",
)

assert V1_SIZE == 252, V1_SIZE


def is_v1(blob: bytes | None) -> bool:
    return blob is not None and len(blob) == V1_SIZE and blob[0] == VERSION


def migrate(
    blobs: Sequence[bytes], into: np.ndarray, rings: Sequence[tuple[str, int, int]]
) -> np.ndarray:
    """``into`` (empty version-2 profiles, one per blob) filled from version-1 ``blobs``.

    ``rings`` is the version-2 ring layout; its 24-hour ring is the second, its 30-day ring the
    fourth, as in :data:`stream_sentinel.logic.profile.RINGS`."""
    old = np.frombuffer(b"".join(blobs), dtype=V1_DTYPE)
    out = into.copy()
    for name in _SHARED:
        out[name] = old[name]
    known = old["n_total"] > 0
    _rebucket(old, out, ("h2", *V1_RING), rings[1], known)
    _rebucket(old, out, rings[2], rings[3], known)  # 7 days of 1-day buckets -> 6-day buckets
    return out


def _rebucket(
    old: np.ndarray,
    out: np.ndarray,
    source_ring: tuple[str, int, int],
    target_ring: tuple[str, int, int],
    known: np.ndarray,
) -> None:
    """Add each bucket of an old ring into the new ring's bucket its start falls in."""
    source, source_width, source_slots = source_ring
    prefix, width, slots = target_ring
    newest_source = (old["last_ts"] // source_width)[:, None]
    bucket = newest_source - ((newest_source - np.arange(source_slots)) % source_slots)
    target = (bucket * source_width) // width
    newest = (old["last_ts"] // width)[:, None]
    inside = (target > newest - slots) & (target <= newest) & known[:, None]
    counts = np.zeros((len(old), slots), dtype=np.int64)
    sums = np.zeros((len(old), slots), dtype=np.float64)
    rows = np.broadcast_to(np.arange(len(old))[:, None], bucket.shape)
    slot = target % slots
    np.add.at(counts, (rows[inside], slot[inside]), old[f"{source}_count"][inside])
    np.add.at(sums, (rows[inside], slot[inside]), old[f"{source}_sum"][inside])
    out[f"{prefix}_count"] = np.minimum(counts, np.iinfo(np.uint16).max)
    out[f"{prefix}_sum"] = sums
