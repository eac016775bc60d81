"""Behavioural features on hand-made transaction sequences, with exact expected values."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from stream_sentinel.logic.columns import to_columns
from stream_sentinel.logic.features import (
    COLUMN,
    FEATURES,
    MerchantStats,
    featurize,
    occurrence_rank,
)
from stream_sentinel.logic.profile import MINUTE_MS, decode_profiles, encode_profiles, new_profiles

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z
BERLIN = (52.52, 13.40)
PARIS = (48.8566, 2.3522)


def tx(user: str, minute: float, amount: float = 20.0, **extra: Any) -> dict[str, Any]:
    record = {
        "transaction_id": f"{user}-{minute}",
        "user_id": user,
        "timestamp": T0 + int(minute * MINUTE_MS),
        "amount": amount,
        "channel": "POS",
        "merchant_id": "m1",
        "device_id": "d1",
        "merchant_latitude": BERLIN[0],
        "merchant_longitude": BERLIN[1],
    }
    record.update(extra)
    return record


def run(records: list[dict[str, Any]], profiles: np.ndarray | None = None) -> np.ndarray:
    columns = to_columns(records)
    if profiles is None:
        profiles = new_profiles(len(columns.users))
    return featurize(profiles, columns.tx, MerchantStats.empty(len(columns.merchants)))


def column(features: np.ndarray, name: str) -> list[float]:
    return [
        round(float(v), 6) if not math.isnan(v) else math.nan for v in features[:, COLUMN[name]]
    ]


def test_the_sixth_transaction_in_ten_minutes_sees_five_before_it() -> None:
    x = run([tx("u1", m * 2) for m in range(6)])
    assert column(x, "count_1h") == [0, 1, 2, 3, 4, 5]
    assert column(x, "count_20m") == [0, 1, 2, 3, 4, 5]
    assert column(x, "sum_1h") == [0, 20, 40, 60, 80, 100]
    assert column(x, "history_count") == [0, 1, 2, 3, 4, 5]
    assert column(x, "seconds_since_last")[1:] == [120.0] * 5


def test_windows_forget_transactions_that_left_them() -> None:
    x = run([tx("u1", 0), tx("u1", 5), tx("u1", 90), tx("u1", 26 * 60), tx("u1", 9 * 24 * 60)])
    # 90 minutes later the first two are out of the 1 h window but in the 24 h one
    assert column(x, "count_1h") == [0, 1, 0, 0, 0]
    assert column(x, "count_24h") == [0, 1, 2, 0, 0]
    assert column(x, "count_7d") == [0, 1, 2, 3, 0]


def test_a_900_km_jump_in_30_minutes_is_an_impossible_speed() -> None:
    x = run(
        [
            tx("u1", 0),
            tx("u1", 30, merchant_latitude=PARIS[0], merchant_longitude=PARIS[1]),
        ]
    )
    distance, speed = x[1, COLUMN["distance_km"]], x[1, COLUMN["speed_kmh"]]
    assert distance == pytest.approx(877.5, abs=1.0)  # Berlin -> Paris great circle
    assert speed == pytest.approx(distance * 2, rel=1e-9)
    assert x[1, COLUMN["card_present"]] == 1 and x[1, COLUMN["prev_card_present"]] == 1


def test_amount_statistics_follow_the_users_history() -> None:
    x = run([tx("u1", m, amount) for m, amount in enumerate([10.0, 20.0, 30.0, 200.0])])
    assert column(x, "amount_over_mean")[1:] == [2.0, 2.0, 10.0]  # mean 10, 15, 20 before
    # z-score of 200 against mean 20 and sample std 10
    assert x[3, COLUMN["amount_zscore"]] == pytest.approx((200 - 20) / 10.0)
    assert math.isnan(x[0, COLUMN["amount_over_mean"]])


def test_novelty_of_merchant_and_device() -> None:
    x = run(
        [
            tx("u1", 0),
            tx("u1", 1),
            tx("u1", 2, merchant_id="m2", device_id="d9"),
            tx("u1", 3, merchant_id="m2"),
        ]
    )
    assert column(x, "new_merchant")[1:] == [0.0, 1.0, 0.0]
    assert column(x, "new_device")[1:] == [0.0, 1.0, 0.0]
    assert math.isnan(x[0, COLUMN["new_merchant"]])  # no history: unknown, not "new"


def test_hour_share_and_daily_count() -> None:
    night = 3 * 60  # 03:00
    x = run([tx("u1", 10 * 60 + m) for m in range(3)] + [tx("u1", 24 * 60 + night)])
    assert column(x, "daily_count") == [0, 1, 2, 0]
    assert column(x, "hour_share")[1:] == [1.0, 1.0, 0.0]


def test_tiny_amounts_are_counted_for_card_testing() -> None:
    x = run([tx("u1", m, 1.0) for m in range(4)] + [tx("u1", 5, 900.0)])
    assert column(x, "small_1h") == [0, 1, 2, 3, 4]


def test_zero_amounts_are_scored_without_nan_or_infinity() -> None:
    # card verification authorisations (amount 0) first, between payments, and alone
    x = run([tx("u1", 0, 0.0), tx("u1", 1, 40.0), tx("u1", 2, 0.0), tx("u1", 3, 20.0)])
    assert column(x, "log_amount") == [
        0.0,
        round(math.log1p(40.0), 6),
        0.0,
        round(math.log1p(20.0), 6),
    ]
    assert column(x, "small_1h") == [0, 1, 1, 2]  # a zero is a tiny amount
    assert column(x, "sum_1h") == [0, 0, 40, 40]
    # after one zero the mean is 0: no ratio (NaN, not infinity); then mean 20, then 40/3
    assert column(x, "amount_over_mean") == [math.nan, math.nan, 0.0, 1.5]
    assert x[2, COLUMN["amount_zscore"]] == pytest.approx(-20 / math.sqrt(800))
    assert x[3, COLUMN["amount_zscore"]] == pytest.approx((20 - 40 / 3) / math.sqrt(1600 / 3))
    zeros = run([tx("u2", m, 0.0) for m in range(3)])
    assert column(zeros, "amount_over_mean") == [math.nan] * 3
    assert column(zeros, "amount_zscore")[2] == 0.0  # no spread: the floor of 1, not 0/0
    assert not np.isinf(x).any() and not np.isinf(zeros).any()


def test_users_are_independent_and_missing_values_are_nan() -> None:
    x = run(
        [tx("u1", 0), tx("u2", 1, channel="ONLINE", merchant_id=None, device_id=None), tx("u1", 2)]
    )
    assert column(x, "history_count") == [0, 0, 1]
    assert math.isnan(x[1, COLUMN["new_merchant"]]) and math.isnan(x[1, COLUMN["distance_km"]])
    assert x[1, COLUMN["card_present"]] == 0


def test_a_batch_gives_the_same_features_as_one_transaction_at_a_time() -> None:
    rng = np.random.default_rng(7)
    records = [
        tx(
            f"u{rng.integers(5)}",
            float(m),
            float(rng.lognormal(3, 1)),
            merchant_id=f"m{rng.integers(4)}",
            device_id=f"d{rng.integers(2)}",
        )
        for m in sorted(rng.uniform(0, 3000, 200))
    ]
    users = sorted({r["user_id"] for r in records})
    batch = run(records)
    profiles = {u: new_profiles(1) for u in users}
    one_by_one = np.vstack([run([r], profiles[r["user_id"]]) for r in records])
    np.testing.assert_allclose(batch, one_by_one, rtol=1e-9, equal_nan=True)


def test_profiles_round_trip_through_their_binary_form() -> None:
    profiles = new_profiles(2)
    run([tx("u1", 0, 12.5), tx("u2", 1), tx("u1", 2)], profiles)
    blobs = encode_profiles(profiles)
    assert [len(b) for b in blobs] == [250, 250]
    again = decode_profiles([blobs[0], None, blobs[1], b"short"])
    assert again[0].tobytes()[1:] == profiles[0].tobytes()[1:]
    assert int(again[0]["n_total"]) == 2 and int(again[2]["n_total"]) == 1
    assert int(again[1]["n_total"]) == 0 and int(again[3]["n_total"]) == 0  # unknown -> empty


def test_occurrence_rank_counts_earlier_rows_of_the_same_user() -> None:
    ranks = occurrence_rank(np.array([3, 1, 3, 3, 1, 0]))
    assert ranks.tolist() == [0, 0, 1, 2, 1, 0]


def test_feature_list_is_the_models_contract() -> None:
    assert len(FEATURES) == len(set(FEATURES)) == 37
    assert FEATURES[:3] == ("amount", "log_amount", "channel")


def test_a_late_event_does_not_move_the_last_place_or_reset_the_day() -> None:
    munich = {"merchant_latitude": 48.137, "merchant_longitude": 11.575}
    x = run(
        [
            tx("u1", 23 * 60 + 50),  # Berlin, 23:50 on day 0
            tx("u1", 24 * 60 + 14 * 60),  # Berlin, 14:00 on day 1
            tx("u1", 24 * 60 + 10 * 60, **munich),  # Munich, 10:00 on day 1, arriving late
            tx("u1", 24 * 60 + 15 * 60),  # Berlin, 15:00 on day 1
            tx("u1", 23 * 60 + 55),  # Berlin, 23:55 on day 0, very late
            tx("u1", 24 * 60 + 16 * 60),  # Berlin, 16:00 on day 1
        ]
    )
    # Munich (504 km from Berlin) four hours before the newest event: 126 km/h, not a jump
    assert x[2, COLUMN["distance_km"]] == pytest.approx(504.4, abs=1.0)
    assert x[2, COLUMN["speed_kmh"]] == pytest.approx(504.4 / 4, abs=0.5)
    # the next in-time payment is measured from Berlin, where the user really was last
    assert x[3, COLUMN["distance_km"]] == pytest.approx(0.0, abs=1e-3)  # float32 storage
    assert column(x, "daily_count") == [0, 0, 1, 2, 0, 3]


def test_windows_over_one_seven_and_thirty_days_count_sum_and_average() -> None:
    day = 24 * 60
    x = run(
        [
            tx("u1", 0, 10.0),
            tx("u1", 60, 30.0),
            tx("u1", 3 * day, 50.0),
            tx("u1", 20 * day, 70.0),
            tx("u1", 20 * day + 60, 0.0),
            tx("u1", 40 * day, 5.0),
        ]
    )
    assert column(x, "count_24h") == [0, 1, 0, 0, 1, 0]
    assert column(x, "count_7d") == [0, 1, 2, 0, 1, 0]
    assert column(x, "count_30d") == [0, 1, 2, 3, 4, 2]
    assert column(x, "sum_30d") == [0, 10, 40, 90, 160, 70]
    assert column(x, "mean_24h") == [math.nan, 10.0, math.nan, math.nan, 70.0, math.nan]
    assert column(x, "mean_7d") == [math.nan, 10.0, 20.0, math.nan, 70.0, math.nan]
    assert column(x, "mean_30d") == [math.nan, 10.0, 20.0, 30.0, 40.0, 35.0]


def test_the_thirty_day_window_forgets_by_six_day_buckets() -> None:
    day = 24 * 60
    # T0's day is a multiple of 6: day 0 opens bucket 0 (days 0-5), day 29 is in bucket 4
    x = run([tx("u1", 0), tx("u1", 29 * day), tx("u1", 30 * day), tx("u1", 36 * day)])
    # day 29 still sees day 0 (a 30-day window); day 30 opens bucket 5 and bucket 0 falls out
    assert column(x, "count_30d") == [0, 1, 1, 2]


def test_the_days_count_comes_from_the_24_hour_ring_across_midnight() -> None:
    x = run([tx("u1", 23 * 60 + 50), tx("u1", 24 * 60 + 10), tx("u1", 24 * 60 + 20)])
    assert column(x, "daily_count") == [0, 0, 1]
    assert column(x, "count_24h") == [0, 1, 2]
