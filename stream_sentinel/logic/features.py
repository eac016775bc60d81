"""Behavioural features: pure, vectorised functions of (batch of transactions, prior state).

Shared by live scoring, training and backtesting. :func:`featurize` walks a batch in *waves*:
wave k holds every user's k-th transaction of the batch, so inside a wave each user appears once
and the wave is one set of array operations; a user's later transactions see the state updated
by the earlier ones, exactly as if they had been processed one by one.

Missing values are NaN (LightGBM treats them natively): no history, no location, no device.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from stream_sentinel.logic.profile import (
    DEVICE_SLOTS,
    FLAG_CARD_PRESENT,
    HOUR_BINS,
    HOUR_MS,
    MERCHANT_SLOTS,
    RINGS,
    today_count,
)

FEATURES: tuple[str, ...] = (
    "amount",
    "log_amount",
    "channel",
    "card_present",
    "prev_card_present",
    "history_count",
    "count_20m",
    "count_1h",
    "sum_1h",
    "small_1h",
    "count_24h",
    "sum_24h",
    "count_7d",
    "sum_7d",
    "count_30d",
    "sum_30d",
    "mean_24h",
    "mean_7d",
    "mean_30d",
    "amount_over_mean",
    "amount_zscore",
    "seconds_since_last",
    "distance_km",
    "speed_kmh",
    "new_merchant",
    "new_device",
    "hour_share",
    "daily_count",
    "merchant_volume_1d",
    "merchant_volume_7d",
    "merchant_volume_30d",
    "merchant_fraud_1d",
    "merchant_fraud_7d",
    "merchant_fraud_30d",
    "merchant_fraud_rate_1d",
    "merchant_fraud_rate_7d",
    "merchant_fraud_rate_30d",
)
#: Each feature's column in the feature matrix, by name.
COLUMN = {name: i for i, name in enumerate(FEATURES)}

#: Amounts at or below this count as "tiny" (card testing probes).
SMALL_AMOUNT = 5.0
EARTH_RADIUS_KM = 6371.0088
_U2_MAX = np.iinfo(np.uint16).max


@dataclass(slots=True)
class TxBatch:
    """A batch of transactions as columns, in processing order (Kafka order per partition)."""

    user_ix: np.ndarray  # int64: index of the transaction's user among the batch's users
    ts: np.ndarray  # int64: event time, epoch ms
    amount: np.ndarray  # float64
    channel: np.ndarray  # int8: Channel code (ONLINE, POS, ATM, MOBILE, OTHER = 0..4)
    lat: np.ndarray  # float64: where the transaction happened (NaN when unknown)
    lon: np.ndarray
    merchant_hash: np.ndarray  # uint32, 0 = no merchant
    device_hash: np.ndarray  # uint32, 0 = no device
    merchant_ix: np.ndarray  # int64: index among the batch's merchants, -1 = none

    def __len__(self) -> int:
        return len(self.ts)

    def take(self, rows: np.ndarray) -> TxBatch:
        """The rows selected by a boolean mask or positions, same users and merchants."""
        return TxBatch(
            self.user_ix[rows],
            self.ts[rows],
            self.amount[rows],
            self.channel[rows],
            self.lat[rows],
            self.lon[rows],
            self.merchant_hash[rows],
            self.device_hash[rows],
            self.merchant_ix[rows],
        )

    @property
    def card_present(self) -> np.ndarray:
        return (self.channel == 1) | (self.channel == 2)  # POS, ATM


@dataclass(slots=True)
class MerchantStats:
    """Per-merchant aggregates for the batch's merchants (index = TxBatch.merchant_ix): volume
    and fraud labels (those arrived so far) of transactions in the last 1, 7 and 30 event days."""

    volume_1d: np.ndarray
    volume_7d: np.ndarray
    volume_30d: np.ndarray
    fraud_1d: np.ndarray
    fraud_7d: np.ndarray
    fraud_30d: np.ndarray

    @classmethod
    def empty(cls, count: int) -> MerchantStats:
        return cls(*(np.zeros(count) for _ in range(6)))


def occurrence_rank(user_ix: np.ndarray) -> np.ndarray:
    """For each row, how many earlier rows of the batch belong to the same user."""
    order = np.argsort(user_ix, kind="stable")
    ordered = user_ix[order]
    starts = np.r_[True, ordered[1:] != ordered[:-1]]
    group_start = np.maximum.accumulate(np.where(starts, np.arange(len(ordered)), 0))
    ranks = np.empty(len(user_ix), dtype=np.int64)
    ranks[order] = np.arange(len(ordered)) - group_start
    return ranks


def featurize(profiles: np.ndarray, tx: TxBatch, merchants: MerchantStats) -> np.ndarray:
    """Feature matrix ``[len(tx), len(FEATURES)]``; updates ``profiles`` in place."""
    out = np.empty((len(tx), len(FEATURES)))
    if len(tx) == 0:
        return out
    ranks = occurrence_rank(tx.user_ix)
    for wave in range(int(ranks.max()) + 1):
        rows = np.flatnonzero(ranks == wave)
        users = tx.user_ix[rows]
        prior = profiles[users]
        out[rows] = _features(prior, tx, rows, merchants)
        profiles[users] = _updated(prior, tx, rows)
    return out


def _ring_window(
    last_ts: np.ndarray,
    counts: np.ndarray,
    sums: np.ndarray | None,
    width: int,
    ts: np.ndarray,
    has: np.ndarray,
    span: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Count and sum of a ring's buckets within ``span`` buckets up to each ``ts``'s bucket."""
    slots = counts.shape[1]
    span = slots if span is None else span
    newest = (last_ts // width)[:, None]
    current = (ts // width)[:, None]
    bucket = newest - ((newest - np.arange(slots)) % slots)
    valid = (bucket > current - span) & (bucket <= current) & has[:, None]
    total = (counts * valid).sum(axis=1).astype(np.float64)
    amount = (sums * valid).sum(axis=1).astype(np.float64) if sums is not None else total
    return total, amount


def _features(
    prior: np.ndarray, tx: TxBatch, rows: np.ndarray, merchants: MerchantStats
) -> np.ndarray:
    ts, amount = tx.ts[rows], tx.amount[rows]
    n = prior["n_total"].astype(np.float64)
    has = n > 0
    out = np.empty((len(rows), len(FEATURES)))
    card_present = tx.card_present[rows]
    out[:, COLUMN["amount"]] = amount
    out[:, COLUMN["log_amount"]] = np.log1p(np.maximum(amount, 0.0))
    out[:, COLUMN["channel"]] = tx.channel[rows]
    out[:, COLUMN["card_present"]] = card_present
    prev_cp = (prior["flags"] & FLAG_CARD_PRESENT) > 0
    out[:, COLUMN["prev_card_present"]] = np.where(has, prev_cp, np.nan)
    out[:, COLUMN["history_count"]] = n
    _window_features(out, prior, ts, has)
    _amount_features(out, prior, amount, n)
    _travel_features(out, prior, tx, rows, has)
    _novelty_features(out, prior, tx, rows, has)
    _merchant_features(out, tx.merchant_ix[rows], merchants)
    return out


#: The count and sum features of each window ring after the first, and the mean derived from them.
_LONG_WINDOWS = (
    ("h3", "count_24h", "sum_24h", "mean_24h"),
    ("d1", "count_7d", "sum_7d", "mean_7d"),
    ("d6", "count_30d", "sum_30d", "mean_30d"),
)


def _window_features(out: np.ndarray, prior: np.ndarray, ts: np.ndarray, has: np.ndarray) -> None:
    last = prior["last_ts"]
    width = {prefix: w for prefix, w, _ in RINGS}
    m10, w10 = (prior["m10_count"], prior["m10_sum"]), width["m10"]
    out[:, COLUMN["count_20m"]], _ = _ring_window(last, *m10, w10, ts, has, span=2)
    out[:, COLUMN["count_1h"]], out[:, COLUMN["sum_1h"]] = _ring_window(last, *m10, w10, ts, has)
    out[:, COLUMN["small_1h"]], _ = _ring_window(last, prior["m10_small"], None, w10, ts, has)
    for prefix, count_name, sum_name, mean_name in _LONG_WINDOWS:
        ring = prior[f"{prefix}_count"], prior[f"{prefix}_sum"]
        count, total = _ring_window(last, *ring, width[prefix], ts, has)
        out[:, COLUMN[count_name]], out[:, COLUMN[sum_name]] = count, total
        # the mean amount of the window's transactions; NaN when the window is empty
        out[:, COLUMN[mean_name]] = np.where(count > 0, total / np.maximum(count, 1.0), np.nan)


def _amount_features(out: np.ndarray, prior: np.ndarray, amount: np.ndarray, n: np.ndarray) -> None:
    mean = prior["mean_amount"]
    with np.errstate(divide="ignore", invalid="ignore"):
        std = np.sqrt(np.where(n > 1, prior["m2_amount"] / np.maximum(n - 1, 1), np.nan))
        out[:, COLUMN["amount_over_mean"]] = np.where((n > 0) & (mean > 0), amount / mean, np.nan)
        # a floor on the spread keeps users with constant amounts from exploding the z-score
        out[:, COLUMN["amount_zscore"]] = (amount - mean) / np.maximum(std, 1.0)


def haversine_km(
    lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray
) -> np.ndarray:
    """Great-circle distance in km (NaN where a coordinate is missing)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp, dl = p2 - p1, np.radians(lon2 - lon1)
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def _travel_features(
    out: np.ndarray, prior: np.ndarray, tx: TxBatch, rows: np.ndarray, has: np.ndarray
) -> None:
    # A late event (older than the newest seen) is measured against the newest one in either
    # direction: its distance from the newest place over the time between them.
    gap_s = np.where(has, np.abs(tx.ts[rows] - prior["last_ts"]) / 1000.0, np.nan)
    out[:, COLUMN["seconds_since_last"]] = gap_s
    distance = haversine_km(
        prior["last_lat"].astype(np.float64),
        prior["last_lon"].astype(np.float64),
        tx.lat[rows],
        tx.lon[rows],
    )
    distance = np.where(has, distance, np.nan)
    out[:, COLUMN["distance_km"]] = distance
    # at least a minute apart, so two payments in the same second do not imply infinite speed
    hours = np.maximum(gap_s, 60.0) / 3600.0
    out[:, COLUMN["speed_kmh"]] = distance / hours


def _novelty_features(
    out: np.ndarray, prior: np.ndarray, tx: TxBatch, rows: np.ndarray, has: np.ndarray
) -> None:
    merchant, device = tx.merchant_hash[rows], tx.device_hash[rows]
    seen_merchant = (prior["merchants"] == merchant[:, None]).any(axis=1)
    seen_device = (prior["devices"] == device[:, None]).any(axis=1)
    out[:, COLUMN["new_merchant"]] = np.where(has & (merchant != 0), ~seen_merchant, np.nan)
    out[:, COLUMN["new_device"]] = np.where(has & (device != 0), ~seen_device, np.nan)
    hist = prior["hour_hist"].astype(np.float64)
    total = hist.sum(axis=1)
    hour_bin = _hour_bin(tx.ts[rows])
    with np.errstate(divide="ignore", invalid="ignore"):
        share = hist[np.arange(len(rows)), hour_bin] / total
    out[:, COLUMN["hour_share"]] = np.where(total > 0, share, np.nan)
    out[:, COLUMN["daily_count"]] = today_count(prior, tx.ts[rows])


def _merchant_features(out: np.ndarray, merchant_ix: np.ndarray, stats: MerchantStats) -> None:
    known = merchant_ix >= 0
    ix = np.where(known, merchant_ix, 0)

    def pick(values: np.ndarray) -> np.ndarray:
        if len(values) == 0:
            return np.full(len(ix), np.nan)
        return np.where(known, values[ix], np.nan)

    for span, volume, fraud in (
        ("1d", stats.volume_1d, stats.fraud_1d),
        ("7d", stats.volume_7d, stats.fraud_7d),
        ("30d", stats.volume_30d, stats.fraud_30d),
    ):
        picked_volume, picked_fraud = pick(volume), pick(fraud)
        out[:, COLUMN[f"merchant_volume_{span}"]] = picked_volume
        out[:, COLUMN[f"merchant_fraud_{span}"]] = picked_fraud
        out[:, COLUMN[f"merchant_fraud_rate_{span}"]] = picked_fraud / np.maximum(
            picked_volume, 1.0
        )


def _hour_bin(ts: np.ndarray) -> np.ndarray:
    return ((ts // HOUR_MS) % 24) // (24 // HOUR_BINS)


def _updated(prior: np.ndarray, tx: TxBatch, rows: np.ndarray) -> np.ndarray:
    """The profiles after each row's transaction (one transaction per profile)."""
    p = prior.copy()
    ts, amount = tx.ts[rows], tx.amount[rows]
    has = p["n_total"] > 0
    r = np.arange(len(rows))
    for prefix, width, slots in RINGS:
        _advance_ring(p, prefix, width, slots, ts, amount, has, r)
    _count_small(p, ts, amount, r)
    n = p["n_total"].astype(np.float64) + 1
    delta = amount - p["mean_amount"]
    p["mean_amount"] += delta / n
    p["m2_amount"] += delta * (amount - p["mean_amount"])
    p["n_total"] = np.minimum(n, np.iinfo(np.uint32).max)
    # "Last" means newest in event time: a late event counts, but does not move them back.
    newest = ~has | (ts >= p["last_ts"])
    p["last_ts"] = np.where(has, np.maximum(p["last_ts"], ts), ts)
    located = newest & np.isfinite(tx.lat[rows]) & np.isfinite(tx.lon[rows])
    p["last_lat"] = np.where(located, tx.lat[rows], p["last_lat"])
    p["last_lon"] = np.where(located, tx.lon[rows], p["last_lon"])
    p["flags"] = np.where(newest, np.where(tx.card_present[rows], FLAG_CARD_PRESENT, 0), p["flags"])
    _remember(p, "merchants", "merchant_ptr", MERCHANT_SLOTS, tx.merchant_hash[rows], r)
    _remember(p, "devices", "device_ptr", DEVICE_SLOTS, tx.device_hash[rows], r)
    _count_hour(p, ts, r)
    return p


def _advance_ring(
    p: np.ndarray,
    prefix: str,
    width: int,
    slots: int,
    ts: np.ndarray,
    amount: np.ndarray,
    has: np.ndarray,
    r: np.ndarray,
) -> None:
    """Move the ring forward to ``ts``'s bucket (clearing what fell out), then count the row."""
    j = np.arange(slots)
    old_newest = (p["last_ts"] // width)[:, None]
    current = ts // width
    new_newest = np.where(has, np.maximum(old_newest[:, 0], current), current)[:, None]
    old_bucket = old_newest - ((old_newest - j) % slots)
    new_bucket = new_newest - ((new_newest - j) % slots)
    stale = (old_bucket != new_bucket) | ~has[:, None]
    counts, sums = p[f"{prefix}_count"], p[f"{prefix}_sum"]
    counts[stale] = 0
    sums[stale] = 0
    if prefix == "m10":
        p["m10_small"][stale] = 0
    inside = current > new_newest[:, 0] - slots  # a late event older than the ring is not counted
    slot = current % slots
    counts[r, slot] = np.where(
        inside, np.minimum(counts[r, slot].astype(np.int64) + 1, _U2_MAX), counts[r, slot]
    )
    sums[r, slot] += np.where(inside, amount, 0.0).astype(np.float32)
    p[f"{prefix}_count"] = counts
    p[f"{prefix}_sum"] = sums


def _count_small(p: np.ndarray, ts: np.ndarray, amount: np.ndarray, r: np.ndarray) -> None:
    _, width, slots = RINGS[0]
    newest = p["last_ts"] // width
    current = ts // width
    counted = (amount <= SMALL_AMOUNT) & (current > np.maximum(newest, current) - slots)
    slot = current % slots
    small = p["m10_small"]
    small[r, slot] = np.where(
        counted, np.minimum(small[r, slot].astype(np.int64) + 1, 255), small[r, slot]
    )
    p["m10_small"] = small


def _remember(
    p: np.ndarray, field: str, pointer: str, slots: int, values: np.ndarray, r: np.ndarray
) -> None:
    """Put values not yet in the ring into it, overwriting the oldest slot."""
    ring = p[field]
    new = (values != 0) & ~(ring == values[:, None]).any(axis=1)
    ptr = p[pointer].astype(np.int64)
    ring[r[new], ptr[new]] = values[new]
    p[field] = ring
    p[pointer] = np.where(new, (ptr + 1) % slots, ptr)


def _count_hour(p: np.ndarray, ts: np.ndarray, r: np.ndarray) -> None:
    hist = p["hour_hist"].astype(np.int64)
    hour_bin = _hour_bin(ts)
    full = hist[r, hour_bin] >= 255
    hist[full] //= 2  # keep the proportions when a bin saturates
    hist[r, hour_bin] += 1
    p["hour_hist"] = hist
