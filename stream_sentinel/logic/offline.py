"""Offline feature replay: the live feature code over a labelled history, in event-time order.

Training needs the features each transaction *had* when it was scored, so the history is
replayed through :func:`~stream_sentinel.logic.features.featurize` with in-memory profiles and
merchant counters, and each fraud label only reaches the merchant counters ``label_delay``
after its transaction — as chargebacks do — so no label leaks into an earlier feature.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from stream_sentinel.logic import merchants
from stream_sentinel.logic.columns import to_columns
from stream_sentinel.logic.features import FEATURES, featurize
from stream_sentinel.logic.profile import DAY_MS, new_profiles

Counters = dict[str, dict[int, float]]


@dataclass
class Replayed:
    """Features of a replayed history, row for row with its records."""

    features: np.ndarray
    labels: np.ndarray
    timestamps: np.ndarray


@dataclass
class OfflineReplay:
    """In-memory state (profiles, merchant counters, pending labels) for replaying a history."""

    label_delay_ms: int
    profiles: np.ndarray = field(default_factory=lambda: new_profiles(1024))
    user_index: dict[str, int] = field(default_factory=dict)
    merchant_counters: dict[str, Counters] = field(default_factory=dict)
    pending: list[tuple[int, int, str, int]] = field(
        default_factory=list
    )  # release, seq, merchant, day
    _seq: int = 0

    def run(
        self, records: Iterable[Mapping[str, Any]], labels: Iterable[int], chunk: int = 2048
    ) -> Replayed:
        """Features for ``records`` (sorted by event time) with their 0/1 ``labels``."""
        parts: list[np.ndarray] = []
        ys: list[np.ndarray] = []
        stamps: list[np.ndarray] = []
        batch: list[Mapping[str, Any]] = []
        batch_labels: list[int] = []
        for record, label in zip(records, labels, strict=True):
            batch.append(record)
            batch_labels.append(label)
            if len(batch) == chunk:
                parts.append(self.step(batch, batch_labels))
                ys.append(np.array(batch_labels, dtype=np.int8))
                stamps.append(np.array([r["timestamp"] for r in batch], dtype=np.int64))
                batch, batch_labels = [], []
        if batch:
            parts.append(self.step(batch, batch_labels))
            ys.append(np.array(batch_labels, dtype=np.int8))
            stamps.append(np.array([r["timestamp"] for r in batch], dtype=np.int64))
        if not parts:
            return Replayed(
                np.empty((0, len(FEATURES))), np.empty(0, np.int8), np.empty(0, np.int64)
            )
        return Replayed(np.vstack(parts), np.concatenate(ys), np.concatenate(stamps))

    def step(self, records: Sequence[Mapping[str, Any]], labels: Sequence[int]) -> np.ndarray:
        """Features of one chunk; then its volume counts and (pending) labels are recorded."""
        columns = to_columns(records)
        tx = columns.tx
        self._release_labels(int(tx.ts.min()))
        tx.user_ix = self._global_users(columns.users)[tx.user_ix]
        today = int(tx.ts.max() // DAY_MS)
        counters = [self.merchant_counters.setdefault(m, _empty()) for m in columns.merchants]
        stats = merchants.stats_for_counters(counters, today)
        features = featurize(self.profiles, tx, stats)
        days = tx.ts // DAY_MS
        for m_ix, day, count in merchants.volume_increments(tx.merchant_ix, days):
            volume = counters[m_ix][merchants.VOLUME]
            volume[day] = volume.get(day, 0.0) + count
        for row in np.flatnonzero(np.asarray(labels) == 1):
            merchant = columns.merchants[tx.merchant_ix[row]] if tx.merchant_ix[row] >= 0 else None
            if merchant is not None:
                self._seq += 1
                release = int(tx.ts[row]) + self.label_delay_ms
                heapq.heappush(self.pending, (release, self._seq, merchant, int(days[row])))
        return features

    def _release_labels(self, now_ms: int) -> None:
        while self.pending and self.pending[0][0] <= now_ms:
            _, _, merchant, day = heapq.heappop(self.pending)
            counters = self.merchant_counters.setdefault(merchant, _empty())
            for kind in (merchants.FRAUD, merchants.LABELS):
                counters[kind][day] = counters[kind].get(day, 0.0) + 1

    def _global_users(self, users: Sequence[str]) -> np.ndarray:
        index = self.user_index
        ids = np.array([index.setdefault(u, len(index)) for u in users], dtype=np.int64)
        if len(index) > len(self.profiles):
            grown = new_profiles(max(len(index), 2 * len(self.profiles)))
            grown[: len(self.profiles)] = self.profiles
            self.profiles = grown
        return ids


def _empty() -> Counters:
    return {merchants.VOLUME: {}, merchants.FRAUD: {}, merchants.LABELS: {}}
