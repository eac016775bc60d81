"""Merchant windows over 1, 7 and 30 days, and labels counted only once they have arrived."""

from __future__ import annotations

from typing import Any

import pytest

from stream_sentinel.logic import merchants
from stream_sentinel.logic.features import COLUMN
from stream_sentinel.logic.offline import OfflineReplay

pytestmark = pytest.mark.unit

DAY_MS = 86_400_000
TODAY = 20_454
HOUR_MS = 3_600_000


def counters() -> dict[str, dict[int, float]]:
    return {
        "n": {TODAY: 4.0, TODAY - 1: 6.0, TODAY - 6: 10.0, TODAY - 7: 20.0, TODAY - 29: 40.0},
        "f": {TODAY: 1.0, TODAY - 6: 2.0, TODAY - 29: 4.0, TODAY - 30: 8.0},
        "l": {},
    }


def test_windows_sum_the_days_up_to_today() -> None:
    stats = merchants.stats_for_counters([counters()], TODAY)
    volume = (stats.volume_1d[0], stats.volume_7d[0], stats.volume_30d[0])
    fraud = (stats.fraud_1d[0], stats.fraud_7d[0], stats.fraud_30d[0])
    assert volume == (4.0, 20.0, 80.0)
    assert fraud == (1.0, 3.0, 7.0)  # day 30 ago is outside every window


def test_a_cached_merchant_moves_its_sums_with_each_increment() -> None:
    cached = merchants.CachedMerchant(counters(), read_at=0.0)
    assert cached.window_sums(TODAY) == (4.0, 20.0, 80.0, 1.0, 3.0, 7.0)
    cached.add_volume(TODAY, 2)
    cached.add_volume(TODAY - 3, 5)
    cached.add_volume(TODAY - 40, 9)
    assert cached.window_sums(TODAY) == (6.0, 27.0, 87.0, 1.0, 3.0, 7.0)
    fresh = merchants.stats_for_counters([cached.counters], TODAY)
    assert (fresh.volume_1d[0], fresh.volume_7d[0], fresh.volume_30d[0]) == (6.0, 27.0, 87.0)
    assert merchants.stats_for_cached([], TODAY).volume_1d.tolist() == []


def tx(n: int, hours: float) -> dict[str, Any]:
    return {
        "transaction_id": f"t{n}",
        "user_id": f"u{n}",
        "timestamp": TODAY * DAY_MS + int(hours * HOUR_MS),
        "amount": 20.0,
        "channel": "ONLINE",
        "merchant_id": "m1",
    }


def test_a_fraud_label_counts_only_after_its_delay() -> None:
    # a fraud at 08:00, labelled one hour later; payments at 08:30 and 09:30 at the same merchant
    records = [tx(0, 8.0), tx(1, 8.5), tx(2, 9.5), tx(3, 24 + 9.5)]
    replayed = OfflineReplay(label_delay_ms=HOUR_MS).run(records, [1, 0, 0, 0], chunk=1)
    x = replayed.features
    assert x[:, COLUMN["merchant_fraud_1d"]].tolist() == [0.0, 0.0, 1.0, 0.0]
    assert x[:, COLUMN["merchant_volume_1d"]].tolist() == [0.0, 1.0, 2.0, 0.0]
    assert x[:, COLUMN["merchant_fraud_rate_1d"]].tolist() == [0.0, 0.0, 0.5, 0.0]
    # the next day the fraud has left the 1-day window but not the 7- and 30-day ones
    assert x[3, COLUMN["merchant_fraud_7d"]] == 1.0 and x[3, COLUMN["merchant_fraud_30d"]] == 1.0
    assert x[3, COLUMN["merchant_volume_7d"]] == 3.0
