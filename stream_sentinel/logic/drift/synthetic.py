"""Seeded synthetic feature rows shaped like featurize's output, for testing the monitors.

Each column has the kind of distribution its feature has (a skewed amount, counts that are
mostly small, codes, 0/1 flags with missing values, shares in [0, 1]), so the monitors meet
ties, NaN and categories as they will live. The values are not realistic payments: the real
ones come from the generator and featurize. Scores are ``Beta(0.3, 6)`` draws, and
:func:`calibrated_labels` draws labels that make them exactly calibrated.

>>> rows, scores = synthetic_rows(np.random.default_rng(0), 3)
>>> rows.shape, scores.shape
((3, 37), (3,))
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from stream_sentinel.logic.features import COLUMN, FEATURES

#: Shares of the five channel codes (ONLINE, POS, ATM, MOBILE, OTHER).
CHANNEL_SHARES = (0.45, 0.3, 0.05, 0.18, 0.02)


def synthetic_rows(
    rng: np.random.Generator, n: int, amount_scale: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` feature rows ``[n, len(FEATURES)]`` and their scores; ``amount_scale`` multiplies
    the amounts (a spending shift)."""
    out = np.empty((n, len(FEATURES)))
    amount = rng.lognormal(3.5, 1.1, n) * amount_scale
    channel = rng.choice(5, size=n, p=CHANNEL_SHARES).astype(np.float64)
    first = rng.random(n) < 0.05  # a user's first payment: no history
    history = np.where(first, 0.0, rng.poisson(40.0, n) + 1.0)
    known = history > 0
    put = _setter(out)
    put("amount", amount)
    put("log_amount", np.log1p(amount))
    put("channel", channel)
    put("card_present", ((channel == 1) | (channel == 2)).astype(np.float64))
    put("prev_card_present", _flag(rng, n, 0.35, known))
    put("history_count", history)
    _window_columns(rng, n, put)
    put("amount_over_mean", rng.lognormal(0.0, 0.6, n))
    put("amount_zscore", rng.standard_normal(n))
    put("seconds_since_last", np.where(known, rng.exponential(40_000.0, n), np.nan))
    distance = np.where(rng.random(n) < 0.1, np.nan, rng.lognormal(2.0, 1.5, n))
    put("distance_km", distance)
    put("speed_kmh", distance / np.maximum(rng.exponential(10.0, n), 1 / 60))
    put("new_merchant", _flag(rng, n, 0.2, known))
    put("new_device", _flag(rng, n, 0.05, known & (rng.random(n) > 0.15)))
    put("hour_share", rng.beta(2.0, 6.0, n))
    put("daily_count", rng.poisson(1.2, n).astype(np.float64))
    _merchant_columns(rng, n, put)
    scores = rng.beta(0.3, 6.0, n)
    _later_columns(rng, n, out, put)  # drawn last: the older columns keep their values per seed
    return out, scores


def calibrated_labels(rng: np.random.Generator, scores: np.ndarray) -> np.ndarray:
    """Fraud labels (1/0) drawn so that a score is the chance of fraud."""
    return (rng.random(len(scores)) < scores).astype(np.int64)


Put = Callable[[str, np.ndarray], None]


def _setter(out: np.ndarray) -> Put:
    def put(name: str, values: np.ndarray) -> None:
        out[:, COLUMN[name]] = values

    return put


def _flag(rng: np.random.Generator, n: int, share: float, known: np.ndarray) -> np.ndarray:
    return np.where(known, (rng.random(n) < share).astype(np.float64), np.nan)


def _window_columns(rng: np.random.Generator, n: int, put: Put) -> None:
    for name, rate, mean_amount in (
        ("count_20m", 0.15, 40.0),
        ("count_1h", 0.4, 40.0),
        ("count_24h", 3.0, 40.0),
        ("count_7d", 15.0, 40.0),
    ):
        counts = rng.poisson(rate, n).astype(np.float64)
        put(name, counts)
        total = name.replace("count", "sum")
        if total in COLUMN:
            put(total, counts * rng.lognormal(np.log(mean_amount), 0.5, n))
    put("small_1h", rng.poisson(0.05, n).astype(np.float64))


def _merchant_columns(rng: np.random.Generator, n: int, put: Put) -> None:
    known = rng.random(n) > 0.03
    for days, scale in (("7d", 1.0), ("30d", 4.0)):
        volume = rng.negative_binomial(2, 2 / (2 + 300.0 * scale), n).astype(np.float64)
        fraud = rng.binomial(volume.astype(np.int64), 0.01).astype(np.float64)
        put(f"merchant_volume_{days}", np.where(known, volume, np.nan))
        put(f"merchant_fraud_{days}", np.where(known, fraud, np.nan))
        rate = fraud / np.maximum(volume, 1.0)
        put(f"merchant_fraud_rate_{days}", np.where(known, rate, np.nan))


def _later_columns(rng: np.random.Generator, n: int, out: np.ndarray, put: Put) -> None:
    """The 30-day window, the window means and the merchants' 1-day window."""
    counts = rng.poisson(60.0, n).astype(np.float64)
    put("count_30d", counts)
    put("sum_30d", counts * rng.lognormal(np.log(40.0), 0.5, n))
    for span in ("24h", "7d", "30d"):
        count, total = out[:, COLUMN[f"count_{span}"]], out[:, COLUMN[f"sum_{span}"]]
        put(f"mean_{span}", np.where(count > 0, total / np.maximum(count, 1.0), np.nan))
    known = ~np.isnan(out[:, COLUMN["merchant_volume_7d"]])
    volume = rng.negative_binomial(2, 2 / (2 + 300.0 / 7), n).astype(np.float64)
    fraud = rng.binomial(volume.astype(np.int64), 0.01).astype(np.float64)
    put("merchant_volume_1d", np.where(known, volume, np.nan))
    put("merchant_fraud_1d", np.where(known, fraud, np.nan))
    put("merchant_fraud_rate_1d", np.where(known, fraud / np.maximum(volume, 1.0), np.nan))


#: The features of :func:`patterned_traffic`'s rows.
PATTERNED_FEATURES = ("amount", "channel", "count_1h")


def patterned_traffic(
    rng: np.random.Generator, days: int, users: int = 3000, start_ms: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stationary traffic that follows the time of day and whose rows depend on each other:
    event times, rows ``[n, len(PATTERNED_FEATURES)]`` and scores of ``days`` days.

    Every day is drawn alike, but the hours are not: a third of the users pay mostly at
    night, larger amounts and mostly online, and an active user pays in a burst of payments
    sharing the user's amount level, channel and risk (``count_1h`` counts the burst so far).
    So an hour is not a sample of the day, nor its rows independent draws."""
    night = rng.random(users) < 1 / 3
    level = rng.normal(3.5, 0.6, users) + 0.8 * night
    channel = np.where(night & (rng.random(users) < 0.8), 0, rng.choice(5, users, p=CHANNEL_SHARES))
    risk = rng.beta(0.5, 8.0, users) + 0.05 * night
    peak = np.where(night, 2.0, 14.0)
    ts, rows, scores = [], [], []
    for hour in range(days * 24):
        phase = 2 * np.pi * ((hour % 24) - peak) / 24
        active = np.flatnonzero(rng.random(users) < 0.06 * (1 + 0.9 * np.cos(phase)))
        bursts = 1 + rng.poisson(1.5, len(active))
        payer = np.repeat(active, bursts)
        order = np.arange(len(payer)) - np.repeat(np.cumsum(bursts) - bursts, bursts)
        amount = rng.lognormal(level[payer], 0.4)
        rows.append(np.column_stack([amount, channel[payer], order]).astype(np.float64))
        scores.append(np.clip(risk[payer] + rng.normal(0.0, 0.02, len(payer)), 0.0, 1.0))
        ts.append(start_ms + hour * 3_600_000 + rng.integers(0, 3_600_000, len(payer)))
    return np.concatenate(ts), np.concatenate(rows), np.concatenate(scores)
