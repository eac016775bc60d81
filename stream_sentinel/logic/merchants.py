"""Merchant state: day counters in one Redis hash per merchant, written by many detectors.

Merchants see transactions from every partition, so their state has many writers and is only
ever changed with atomic increments: ``n:{day}`` counts transactions of that event day, ``f:{day}``
and ``l:{day}`` count fraud labels and all labels for transactions of that day (arriving later);
counters older than RETENTION_DAYS are removed by the detector now and then.
Days are days since the epoch in event time, so replays of old data behave like live traffic.
Pure parsing and aggregation here; the detector does the I/O.

The windows (1, 7 and 30 days up to the scored transaction's event day) count the merchant's
transactions of those days and the fraud labels *received so far* for them: a label is counted
by the feedback consumer when it arrives, under its transaction's day, so a transaction scored
before a label arrived never saw it. (With chargebacks weeks late, the 1-day and 7-day fraud
counts hold only the fast labels: analyst verdicts, customer reports.)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from stream_sentinel.logic.features import MerchantStats

RETENTION_DAYS = 31
VOLUME, FRAUD, LABELS = "n", "f", "l"
#: The window spans in days, shortest first (the order of MerchantStats' fields).
SPANS = (1, 7, 30)


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
    """1-, 7- and 30-day volume and fraud-label counts up to ``today`` for each merchant hash."""
    return stats_for_counters([parse_counters(fields) for fields in hashes], today)


def stats_for_counters(
    counters: Sequence[Mapping[str, Mapping[int, float]]], today: int
) -> MerchantStats:
    """The same aggregates from already-parsed counters."""
    return _stats([_sums(merchant, today) for merchant in counters])


def _sums(counters: Mapping[str, Mapping[int, float]], today: int) -> tuple[float, ...]:
    """Volume over each span, then fraud labels over each span."""
    volume, fraud = counters[VOLUME], counters[FRAUD]
    return tuple(_window(volume, today, span) for span in SPANS) + tuple(
        _window(fraud, today, span) for span in SPANS
    )


def _stats(sums: Sequence[tuple[float, ...]]) -> MerchantStats:
    if not sums:
        return MerchantStats.empty(0)
    columns = np.array(sums, dtype=np.float64).T
    return MerchantStats(*columns)


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
        self.sums: tuple[float, ...] = (0.0,) * (2 * len(SPANS))  # volume by span, fraud by span

    def window_sums(self, today: int) -> tuple[float, ...]:
        if self.day != today:
            self.sums = _sums(self.counters, today)
            self.day = today
        return self.sums

    def add_volume(self, day: int, count: int) -> None:
        volume = self.counters[VOLUME]
        volume[day] = volume.get(day, 0.0) + count
        if self.day is not None:
            moved = tuple(
                total + count * (self.day - span < day <= self.day)
                for total, span in zip(self.sums, SPANS, strict=False)
            )
            self.sums = moved + self.sums[len(SPANS) :]


def stats_for_cached(merchants: Sequence[CachedMerchant], today: int) -> MerchantStats:
    """Window sums of cached merchants as the features' arrays."""
    return _stats([merchant.window_sums(today) for merchant in merchants])
