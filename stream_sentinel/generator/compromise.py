"""Compromised merchants: for a window of days, a share of a shop's ordinary-looking payments
are fraudulent (a tampered terminal, a colluding merchant).

Nothing in those transactions differs from the shop's normal traffic, so only merchant-level risk
learned from delayed labels can catch them. Each window has a quota of fraudulent payments and
closes when it is met (or after a few days); the simulator opens new windows when the pattern's
share of the fraud budget needs them, so a compromised shop always shows a high fraud share.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from stream_sentinel.generator import catalog
from stream_sentinel.generator.batch import TransactionBatch
from stream_sentinel.generator.behaviour import DAY_MS
from stream_sentinel.generator.population import Merchants

I64 = npt.NDArray[np.int64]
FRAUD_SHARE = 0.35  # share of a compromised shop's payments that are fraudulent
QUOTA_RANGE = (15, 60)  # fraudulent payments per window
MEAN_QUOTA = sum(QUOTA_RANGE) / 2
WINDOW_DAYS = (1.0, 4.0)
MEAN_WINDOW_DAYS = sum(WINDOW_DAYS) / 2
CANDIDATES = 8  # shops considered per window to open
MAX_OPEN_PER_STEP = 16
MAX_OPEN_SHARE = 0.25  # never more than a quarter of the shops compromised at once


@dataclass(slots=True)
class CompromiseWindows:
    """Per-merchant compromise windows [from, until) in simulated ms, with quotas."""

    merchants: Merchants
    compromised_from: I64 = field(init=False)
    compromised_until: I64 = field(init=False)
    quota: I64 = field(init=False)
    delivered: I64 = field(init=False)
    traffic: npt.NDArray[np.float64] = field(init=False)  # recent payments per shop (decayed)
    traffic_ms: float = 0.0  # the simulated time those counts cover (decayed alike)
    opened: int = 0

    def __post_init__(self) -> None:
        size = self.merchants.size
        self.compromised_from = np.zeros(size, dtype=np.int64)
        self.compromised_until = np.zeros(size, dtype=np.int64)
        self.quota = np.zeros(size, dtype=np.int64)
        self.delivered = np.zeros(size, dtype=np.int64)
        self.traffic = np.zeros(size, dtype=np.float64)

    def active_at(self, merchant: npt.NDArray[np.int32], times: I64) -> npt.NDArray[np.bool_]:
        return (self.compromised_from[merchant] <= times) & (
            times < self.compromised_until[merchant]
        )

    def open_now(self, now_ms: int) -> npt.NDArray[np.bool_]:
        return (self.compromised_from <= now_ms) & (now_ms < self.compromised_until)

    def remaining_quota(self, now_ms: int) -> int:
        """Fraudulent payments the open windows will still deliver."""
        open_now = self.open_now(now_ms)
        return int((self.quota[open_now] - self.delivered[open_now]).clip(min=0).sum())

    def relabel(self, rng: np.random.Generator, chunk: TransactionBatch, allowance: int) -> int:
        """Mark up to ``allowance`` of the legitimate payments at compromised shops (a share of
        each shop's traffic) as fraud; returns how many."""
        eligible = (chunk.pattern == catalog.LEGIT) & self.active_at(
            chunk.merchant, chunk.timestamp
        )
        chosen = np.flatnonzero(eligible & (rng.random(len(chunk)) < FRAUD_SHARE))[:allowance]
        if not len(chosen):
            return 0
        chunk.pattern[chosen] = catalog.COMPROMISED_MERCHANT
        shops, counts = np.unique(chunk.merchant[chosen], return_counts=True)
        self.delivered[shops] += counts
        full = shops[self.delivered[shops] >= self.quota[shops]]
        self.compromised_until[full] = np.minimum(
            self.compromised_until[full], int(chunk.timestamp[-1]) + 1
        )
        return len(chosen)

    def observe(self, chunk: TransactionBatch) -> None:
        """Track each shop's recent traffic (about a simulated day of memory)."""
        if not len(chunk):
            return
        span = float(chunk.timestamp[-1] - chunk.timestamp[0]) + 1.0
        decay = float(np.exp(-span / DAY_MS))
        counts = np.bincount(chunk.merchant, minlength=self.merchants.size)
        self.traffic = self.traffic * decay + counts
        self.traffic_ms = self.traffic_ms * decay + span

    def open(self, rng: np.random.Generator, owed: float, now_ms: int) -> int:
        """Compromise enough idle shops, from ``now_ms``, to deliver ``owed`` fraud events."""
        room = int(MAX_OPEN_SHARE * self.merchants.physical) - int(self.open_now(now_ms).sum())
        wanted = min(max(int(np.ceil(owed / MEAN_QUOTA)), 1), MAX_OPEN_PER_STEP, room)
        shops = self._idle_shops(rng, wanted, now_ms)
        self.compromised_from[shops] = now_ms
        days = rng.uniform(*WINDOW_DAYS, len(shops))
        self.compromised_until[shops] = now_ms + (days * DAY_MS).astype(np.int64)
        self.quota[shops] = rng.integers(*QUOTA_RANGE, len(shops), endpoint=True)
        self.delivered[shops] = 0
        self.opened += len(shops)
        return len(shops)

    def _idle_shops(self, rng: np.random.Generator, count: int, now_ms: int) -> I64:
        """Idle shops with premises whose traffic fits a window: busy enough to meet a quota
        in a few days at the fraud share, not so busy that the quota is a drop in the ocean."""
        shops = self.merchants
        weights = shops.popularity[: shops.physical].copy()
        weights[self.compromised_until[: shops.physical] > now_ms] = 0.0
        idle = int((weights > 0).sum())
        if idle == 0 or count <= 0:
            return np.zeros(0, dtype=np.int64)
        pool = rng.choice(
            shops.physical, min(idle, CANDIDATES * count), replace=False, p=weights / weights.sum()
        )
        per_day = self.traffic[pool] / max(self.traffic_ms, 1.0) * DAY_MS
        wanted = MEAN_QUOTA / (FRAUD_SHARE * MEAN_WINDOW_DAYS)
        fit = np.abs(np.log((per_day + 0.1) / wanted))
        return pool[np.argsort(fit, kind="stable")[:count]].astype(np.int64)
