"""The console's profile decoder reads back exactly what the detector's encoder wrote."""

from __future__ import annotations

import numpy as np
import pytest

from stream_sentinel.console.profile_view import decode_profile
from stream_sentinel.logic import profile as layout

pytestmark = pytest.mark.unit

LAST = 1_700_000_123_456


def _encoded() -> bytes:
    profile = layout.new_profiles(1)
    profile["n_total"] = 7
    profile["last_ts"] = LAST
    profile["mean_amount"] = 52.5
    profile["m2_amount"] = 1_350.0  # variance 225 over 6 -> std 15
    profile["last_lat"], profile["last_lon"] = 40.4168, -3.7038
    profile["flags"] = layout.FLAG_CARD_PRESENT
    newest = LAST // (10 * layout.MINUTE_MS)
    profile["m10_count"][0, newest % 6] = 2
    profile["m10_sum"][0, newest % 6] = 30.5
    profile["m10_small"][0, newest % 6] = 1
    profile["m10_count"][0, (newest - 2) % 6] = 5
    profile["m10_sum"][0, (newest - 2) % 6] = 250.0
    profile["d1_count"][0, (LAST // layout.DAY_MS) % 7] = 7
    profile["d1_sum"][0, (LAST // layout.DAY_MS) % 7] = 367.5
    profile["hour_hist"][0, 3] = 4
    profile["merchants"][0, :2] = [11, 22]
    profile["devices"][0, 0] = 99
    profile["h3_count"][0, (LAST // (3 * 3_600_000)) % 8] = 3  # today's count: 3
    return layout.encode_profiles(profile)[0]


def test_every_field_decodes_to_what_was_encoded() -> None:
    decoded = decode_profile(_encoded())
    assert decoded is not None
    assert decoded["fields"] == {
        "transactions": 7,
        "last_event_time": LAST,
        "mean_amount": 52.5,
        "std_amount": 15.0,
        "last_location": [40.4168, -3.7038],
        "daily_count": 3,
        "recent_merchants": 2,
        "recent_devices": 1,
        "version": 2,
        "card_present_last": True,
        "hour_histogram": [0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0],
        "merchant_hashes": [11, 22],
        "device_hashes": [99],
    }


def test_the_windows_list_their_buckets_newest_first_with_start_times() -> None:
    decoded = decode_profile(_encoded())
    assert decoded is not None
    hour = decoded["windows"]["m10"]
    width = 10 * layout.MINUTE_MS
    newest = LAST // width * width
    assert [(b["start_ms"], b["count"], b["sum"], b["small"]) for b in hour["buckets"]] == [
        (newest, 2, 30.5, 1),
        (newest - width, 0, 0.0, 0),
        (newest - 2 * width, 5, 250.0, 0),
        (newest - 3 * width, 0, 0.0, 0),
        (newest - 4 * width, 0, 0.0, 0),
        (newest - 5 * width, 0, 0.0, 0),
    ]
    assert (hour["count"], hour["sum"]) == (7, 280.5)
    week = decoded["windows"]["d1"]
    assert (week["count"], week["sum"], len(week["buckets"])) == (7, 367.5, 7)
    assert decoded["windows"]["h3"]["count"] == 3
    assert decoded["windows"]["d6"]["count"] == 0
    assert [w["name"] for w in decoded["windows"].values()] == [
        "1 hour (10-minute buckets)",
        "24 hours (3-hour buckets)",
        "7 days (1-day buckets)",
        "30 days (6-day buckets)",
    ]


def test_the_decoder_agrees_with_the_detectors_batch_decoder_on_many_profiles() -> None:
    rng = np.random.default_rng(7)
    profiles = layout.new_profiles(50)
    profiles["n_total"] = rng.integers(1, 1000, 50)
    profiles["last_ts"] = rng.integers(LAST - 10**9, LAST, 50)
    profiles["m10_count"] = rng.integers(0, 50, (50, 6))
    blobs = layout.encode_profiles(profiles)
    batch = layout.decode_profiles(blobs)
    for blob, expected in zip(blobs, batch, strict=True):
        decoded = decode_profile(blob)
        assert decoded is not None
        assert decoded["fields"]["transactions"] == int(expected["n_total"])
        assert decoded["windows"]["m10"]["count"] == int(expected["m10_count"].sum())


def test_a_value_that_is_not_a_profile_of_this_version_is_not_decoded() -> None:
    foreign = b"\x03" + _encoded()[1:]
    assert decode_profile(foreign) is None
    assert decode_profile(b"short") is None
    assert decode_profile(None) is None
