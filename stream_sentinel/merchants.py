"""Merchant state: day counters in one Redis hash per merchant, written by many detectors.

Merchants see transactions from every partition, so their state has many writers and is only
ever changed with atomic increments: ``n:{day}`` counts transactions of that event day, ``f:{day}``
and ``l:{day}`` count fraud labels and all labels for transactions of that day (arriving later).
Days are days since the epoch in event time, so replays of old data behave like live traffic.
Pure parsing and aggregation here; the detector does the I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from stream_sentinel.features import MerchantStats

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
    pairs = np.stack([merchant_ix[known], days[known]], axis=1)
    unique, counts = np.unique(pairs, axis=0, return_counts=True)
    return [(int(m), int(d), int(c)) for (m, d), c in zip(unique, counts, strict=True)]


def stale_fields(fields: Mapping[str, bytes], today: int) -> list[str]:
    """Counters older than the retention window (removed when the merchant is next written)."""
    stale = []
    for name in fields:
        _, _, day = name.partition(":")
        if day.lstrip("-").isdigit() and int(day) <= today - RETENTION_DAYS:
            stale.append(name)
    return stale
