"""Merchant state: day counters in one Redis hash per merchant, written by many detectors.

Merchants see transactions from every partition, so their state has many writers and is only
ever changed with atomic increments: ``n:{day}`` counts transactions of that event day, ``f:{day}``
and ``l:{day}`` count fraud labels and all labels for transactions of that day (arriving later);
counters older than RETENTION_DAYS are removed by the detector now and then.
Days are days since the epoch in event time, so replays of old data behave like live traffic.
Pure parsing and aggregation here; the detector does the I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from stream_sentinel.logic.features import MerchantStats

RETENTION_DAYS = 31
VOLUME, FRAUD, LABELS = "n", "f", "l"


def field(kind: str, day: int) -> str:
    return f"{kind}:{day}"


def parse_counters(fields: Mapping[str, bytes]) -> dict[str, dict[int, float]]:
    """``{"n": {day: count}, "f": {...}, "l": {...}}`` from a merchant hash."""
    out: dict[str, dict[int, float]] = {VOLUME: {}, FRAUD: {}, LABELS: {}}
    for name, value in fields.items():
        kind, _, day = name.partition(":")
        if kind in out and day.lstrip("-").isdigit():
            out[kind][int(day)] = float(value)
    return out


def stats_for(hashes: Sequence[Mapping[str, bytes]], today: int) -> MerchantStats:
    """7- and 30-day volume and fraud-label counts up to ``today`` for each merchant hash."""
    return stats_for_counters([parse_counters(fields) for fields in hashes], today)


def stats_for_counters(
    counters: Sequence[Mapping[str, Mapping[int, float]]], today: int
) -> MerchantStats:
    """The same aggregates from already-parsed counters."""
    stats = MerchantStats.empty(len(counters))
    for i, merchant in enumerate(counters):
        stats.volume_7d[i] = _window(merchant[VOLUME], today, 7)
        stats.volume_30d[i] = _window(merchant[VOLUME], today, 30)
        stats.fraud_7d[i] = _window(merchant[FRAUD], today, 7)
        stats.fraud_30d[i] = _window(merchant[FRAUD], today, 30)
    return stats


def _window(days: Mapping[int, float], today: int, span: int) -> float:
    return sum(count for day, count in days.items() if today - span < day <= today)


def volume_increments(merchant_ix: np.ndarray, days: np.ndarray) -> list[tuple[int, int, int]]:
    """(merchant index, day, count) per merchant-day of a batch; rows without merchant skipped."""
    known = merchant_ix >= 0
    if not known.any():
        return []
    merchant, day = merchant_ix[known], days[known]
    first = int(day.min())
    span = int(day.max()) - first + 1
    # one int64 key per (merchant, day): a 1-D unique is several times faster than axis=0
    keys, counts = np.unique(merchant * span + (day - first), return_counts=True)
    return [
        (int(k // span), int(k % span) + first, int(c))
        for k, c in zip(keys.tolist(), counts.tolist(), strict=True)
    ]


class CachedMerchant:
    """One merchant's counters as last read, with its window sums kept up to date.

    Summing 30 days of counters for every merchant of every batch was the detector's most
    expensive pure-Python step; the sums are computed once per (read, event day) and then
    moved by each increment."""

    __slots__ = ("counters", "day", "read_at", "sums")

    def __init__(self, counters: dict[str, dict[int, float]], read_at: float) -> None:
        self.counters = counters
        self.read_at = read_at
        self.day: int | None = None
        self.sums = (0.0, 0.0, 0.0, 0.0)  # volume 7d, volume 30d, fraud 7d, fraud 30d

    def window_sums(self, today: int) -> tuple[float, float, float, float]:
        if self.day != today:
            volume, fraud = self.counters[VOLUME], self.counters[FRAUD]
            self.sums = (
                _window(volume, today, 7),
                _window(volume, today, 30),
                _window(fraud, today, 7),
                _window(fraud, today, 30),
            )
            self.day = today
        return self.sums

    def add_volume(self, day: int, count: int) -> None:
        volume = self.counters[VOLUME]
        volume[day] = volume.get(day, 0.0) + count
        if self.day is not None:
            v7, v30, f7, f30 = self.sums
            in7, in30 = self.day - 7 < day <= self.day, self.day - 30 < day <= self.day
            self.sums = (v7 + count * in7, v30 + count * in30, f7, f30)


def stats_for_cached(merchants: Sequence[CachedMerchant], today: int) -> MerchantStats:
    """Window sums of cached merchants as the features' arrays."""
    stats = MerchantStats.empty(len(merchants))
    for i, merchant in enumerate(merchants):
        v7, v30, f7, f30 = merchant.window_sums(today)
        stats.volume_7d[i], stats.volume_30d[i] = v7, v30
        stats.fraud_7d[i], stats.fraud_30d[i] = f7, f30
    return stats
