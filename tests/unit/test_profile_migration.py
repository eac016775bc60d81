"""A version-1 profile already in Redis decodes to the version-2 profile the docs describe."""

from __future__ import annotations

import numpy as np
import pytest

from stream_sentinel.logic import profile as layout
from stream_sentinel.logic import profile_v1

pytestmark = pytest.mark.unit

HOUR = 3_600_000
DAY = 24 * HOUR
LAST = 20_454 * DAY + 14 * HOUR + 30 * 60_000  # 2026-01-01 14:30 (a day divisible by 6)


def v1_profile() -> np.ndarray:
    """A user seen 9 times: today at 13:10 and 14:30, yesterday at 23:00, and 4 and 6 days ago."""
    old = np.zeros(1, dtype=profile_v1.V1_DTYPE)
    old["version"] = 1
    old["flags"] = layout.FLAG_CARD_PRESENT
    old["n_total"] = 9
    old["last_ts"] = LAST
    old["mean_amount"], old["m2_amount"] = 42.5, 900.0
    old["last_lat"], old["last_lon"] = 52.5, 13.4
    m10 = LAST // (10 * 60_000)
    old["m10_count"][0, m10 % 6], old["m10_sum"][0, m10 % 6] = 1, 20.0
    old["m10_small"][0, m10 % 6] = 1
    for when, count, total in ((LAST, 2, 60.0), (LAST - 15 * HOUR - 30 * 60_000, 1, 30.0)):
        slot = (when // (2 * HOUR)) % 12  # 14:30 and yesterday's 23:00
        old["h2_count"][0, slot], old["h2_sum"][0, slot] = count, total
    for days_ago, count, total in ((0, 2, 60.0), (1, 1, 30.0), (4, 2, 100.0), (6, 4, 200.0)):
        slot = (LAST // DAY - days_ago) % 7
        old["d1_count"][0, slot], old["d1_sum"][0, slot] = count, total
    old["hour_hist"][0, 7] = 9
    old["merchants"][0, :3] = [11, 22, 33]
    old["devices"][0, 0] = 99
    old["merchant_ptr"], old["device_ptr"] = 3, 1
    old["daily_day"], old["daily_count"] = LAST // DAY, 2
    old["fraud_labels"] = 0
    return old


def test_a_version_1_profile_is_migrated_on_read() -> None:
    old = v1_profile()
    [new] = layout.decode_profiles([old.tobytes()])
    for name in ("flags", "n_total", "last_ts", "mean_amount", "m2_amount", "hour_hist"):
        np.testing.assert_array_equal(new[name], old[0][name])
    for name in ("m10_count", "m10_sum", "m10_small", "d1_count", "d1_sum", "merchants"):
        np.testing.assert_array_equal(new[name], old[0][name])
    assert (new["merchant_ptr"], new["device_ptr"]) == (3, 1)
    # the 24-hour ring: 14:00-16:00 -> the 12:00-15:00 bucket; yesterday 22:00-24:00 -> 21:00-24:00
    h3 = LAST // (3 * HOUR)
    assert new["h3_count"][h3 % 8] == 2 and new["h3_sum"][h3 % 8] == 60.0
    assert new["h3_count"][(h3 - 5) % 8] == 1 and new["h3_sum"][(h3 - 5) % 8] == 30.0
    assert int(new["h3_count"].sum()) == 3
    # the 30-day ring starts from the 7 days: days 0 and 1 ago (bucket of today), 4 and 6 ago
    d6 = LAST // (6 * DAY)
    assert LAST // DAY % 6 == 0  # today opens its 6-day bucket, so the others are older ones
    assert new["d6_count"][d6 % 5] == 2 and new["d6_sum"][d6 % 5] == 60.0
    assert new["d6_count"][(d6 - 1) % 5] == 7 and new["d6_sum"][(d6 - 1) % 5] == 330.0
    assert int(new["d6_count"].sum()) == 9
    assert layout.describe(new)["daily_count"] == 2  # read from the ring now
    assert layout.encode_profiles(new.reshape(1))[0][0] == layout.VERSION


def test_a_migrated_profile_gives_the_features_the_old_windows_held() -> None:
    from stream_sentinel.logic.columns import to_columns
    from stream_sentinel.logic.features import COLUMN, MerchantStats, featurize

    profiles = layout.decode_profiles([v1_profile().tobytes()])
    record = {
        "transaction_id": "t",
        "user_id": "u1",
        "timestamp": LAST + 10 * 60_000,
        "amount": 10.0,
        "channel": "POS",
    }
    columns = to_columns([record])
    [x] = featurize(profiles, columns.tx, MerchantStats.empty(0))
    assert (x[COLUMN["count_7d"]], x[COLUMN["sum_7d"]]) == (9, 390.0)
    assert (x[COLUMN["count_30d"]], x[COLUMN["sum_30d"]]) == (9, 390.0)
    assert x[COLUMN["mean_30d"]] == pytest.approx(390.0 / 9)
    assert (x[COLUMN["count_24h"]], x[COLUMN["daily_count"]]) == (3, 2)
    assert x[COLUMN["history_count"]] == 9
    assert int(profiles[0]["n_total"]) == 10


def test_an_empty_or_foreign_value_is_an_empty_profile() -> None:
    old = v1_profile()
    old["version"] = 7
    blank = np.zeros(1, dtype=profile_v1.V1_DTYPE)
    blank["version"] = 1
    decoded = layout.decode_profiles([old.tobytes(), blank.tobytes(), None, b"\x01" * 10])
    assert decoded["n_total"].tolist() == [0, 0, 0, 0]
    assert int(decoded["h3_count"].sum() + decoded["d6_count"].sum()) == 0
    assert not layout.is_profile(old.tobytes()) and layout.is_profile(v1_profile().tobytes())


def test_a_batch_mixing_versions_keeps_each_profile_in_its_place() -> None:
    current = layout.new_profiles(1)
    current["n_total"], current["last_ts"] = 4, LAST
    blobs = [layout.encode_profiles(current)[0], v1_profile().tobytes(), None]
    assert layout.decode_profiles(blobs)["n_total"].tolist() == [4, 9, 0]
