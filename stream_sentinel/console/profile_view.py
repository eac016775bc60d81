"""A ``user:{id}`` profile as a reader wants it: named fields and its windows, bucket by bucket.

Built on :func:`~stream_sentinel.logic.profile.decode_profiles`, so the console reads exactly
what the detector wrote; a window's buckets are listed newest first, each with the time it
starts (the ring holds bucket ``b`` in slot ``b % slots``, the newest bucket follows from
``last_ts``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from stream_sentinel.logic import profile as layout

WINDOW_NAMES = {
    "m10": "1 hour (10-minute buckets)",
    "h3": "24 hours (3-hour buckets)",
    "d1": "7 days (1-day buckets)",
    "d6": "30 days (6-day buckets)",
}


def _window(record: np.void, prefix: str, width_ms: int, slots: int) -> dict[str, Any]:
    newest = int(record["last_ts"]) // width_ms
    buckets = []
    for bucket in range(newest, newest - slots, -1):
        slot = bucket % slots
        entry: dict[str, Any] = {
            "start_ms": bucket * width_ms,
            "count": int(record[f"{prefix}_count"][slot]),
            "sum": round(float(record[f"{prefix}_sum"][slot]), 2),
        }
        if prefix == "m10":
            entry["small"] = int(record["m10_small"][slot])
        buckets.append(entry)
    return {
        "name": WINDOW_NAMES[prefix],
        "count": sum(b["count"] for b in buckets),
        "sum": round(sum(b["sum"] for b in buckets), 2),
        "buckets": buckets,
    }


def decode_profile(blob: bytes | None) -> dict[str, Any] | None:
    """The profile's fields and windows; None when ``blob`` is not a profile this version reads."""
    if not layout.is_profile(blob):  # a version-1 value is migrated, as the detector reads it
        return None
    record = layout.decode_profiles([blob])[0]
    fields = layout.describe(record)
    fields.update(
        {
            "version": int(record["version"]),
            "card_present_last": bool(int(record["flags"]) & layout.FLAG_CARD_PRESENT),
            "hour_histogram": [int(n) for n in record["hour_hist"]],
            "merchant_hashes": [int(h) for h in record["merchants"] if h],
            "device_hashes": [int(h) for h in record["devices"] if h],
            # float32 on disk: five decimals (about a metre) is all the precision there is
            "last_location": [
                round(float(record["last_lat"]), 5),
                round(float(record["last_lon"]), 5),
            ],
        }
    )
    windows = {
        prefix: _window(record, prefix, width, slots) for prefix, width, slots in layout.RINGS
    }
    return {"fields": fields, "windows": windows}
