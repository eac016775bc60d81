"""The overview's figures: throughput and lag from offset samples, counts from Redis.

A sampler reads the end offsets of the input and output topics and the committed offsets of our
consumer groups every few seconds and keeps the last hour; rates are the deltas between samples
(so the first figure appears with the second sample); each sample also keeps every group's
oldest unread record's timestamp and its age then, for the charts. Lag in seconds is shown two
ways: the lag in records over the rate at which the group has been committing, and the age of the
oldest record the group has not consumed: the newest sample's timestamp against now, so it grows
between samples. Where that sample is older than two intervals (sampling failed) or the group's
committed offsets or lag have changed since, the timestamp is read again (through the timestamp
cache, which costs no read while the committed offset has not moved).
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

import numpy as np

from stream_sentinel.alerts.stats import read_stats
from stream_sentinel.console.groups_view import age_s, oldest_unread_times
from stream_sentinel.console.messages import BrowseQuery, MessageBrowser
from stream_sentinel.console.sources import ConsoleSources
from stream_sentinel.ops.status import (
    GroupStatus,
    dead_letter_counts,
    group_status,
    our_groups,
)
from stream_sentinel.state.base import StoreInfo
from stream_sentinel.transport.base import TopicPartition

HOUR_S = 3600
LATENCY_SAMPLE = 20  # newest decisions per partition the latency percentiles are taken over


@dataclass(frozen=True, slots=True)
class OffsetSample:
    time_ms: int
    ends: dict[str, int]  # topic -> sum of end offsets
    committed: dict[str, int]  # group -> sum of committed offsets
    lag: dict[str, int]  # group -> records behind
    lag_s: dict[str, float | None]  # group -> its oldest unread record's age (None: not found)
    oldest_ms: dict[str, int | None]  # group -> that record's timestamp (None: none unread/found)


@dataclass
class Overview:
    time_ms: int
    in_rate: float | None
    out_rate: float | None
    groups: list[dict[str, Any]]
    decisions: dict[str, int]
    alerts: dict[str, int]
    dead_letters: dict[str, int]
    store: StoreInfo
    latency_ms: dict[str, float | None] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        store = self.store
        return {
            "time_ms": self.time_ms,
            "throughput": {"in_per_s": self.in_rate, "out_per_s": self.out_rate},
            "latency_ms": self.latency_ms,
            "groups": self.groups,
            "decisions": self.decisions,
            "alerts": self.alerts,
            "dead_letters": self.dead_letters,
            "redis": {
                "backend": store.backend,
                "used_memory": store.used_memory,
                "maxmemory": store.maxmemory,
                "maxmemory_policy": store.maxmemory_policy,
                "aof_enabled": store.aof_enabled,
            },
        }


def _rate(older: int, newer: int, seconds: float) -> float:
    return max(newer - older, 0) / seconds if seconds > 0 else 0.0


class OverviewSampler:
    """Offset samples over the last hour, and the overview built from them."""

    def __init__(self, sources: ConsoleSources, interval_s: float = 5.0) -> None:
        self.sources = sources
        self.interval_s = interval_s
        self.samples: deque[OffsetSample] = deque(maxlen=max(2, int(HOUR_S / interval_s)))
        self._lock = threading.Lock()

    def sample(self) -> OffsetSample:
        """Read the offsets now and keep them."""
        sources = self.sources
        topics = [sources.topics.transactions, sources.topics.fraud_scores]
        described = sources.admin.describe_topics(topics)
        tps = [
            TopicPartition(t, p)
            for t in topics
            if t in described
            for p in range(described[t].partitions)
        ]
        ends = sources.admin.end_offsets(tps) if tps else {}
        totals = {t: sum(o for tp, o in ends.items() if tp.topic == t) for t in topics}
        statuses = [
            group_status(sources.admin, sources.state, group, topic)
            for group, topic in our_groups(sources.settings)
        ]
        committed = {s.group: sum(s.committed.values()) for s in statuses}
        lag = {s.group: s.total_lag for s in statuses}
        oldest = oldest_unread_times(sources, statuses)
        now = sources.clock.now_ms()
        ages = {s.group: age_s(now, s.total_lag, oldest[s.group]) for s in statuses}
        taken = OffsetSample(now, totals, committed, lag, ages, oldest)
        with self._lock:
            self.samples.append(taken)
        return taken

    def latest(self) -> OffsetSample | None:
        with self._lock:
            return self.samples[-1] if self.samples else None

    def _last_two(self) -> tuple[OffsetSample, OffsetSample] | None:
        with self._lock:
            if len(self.samples) < 2:
                return None
            return self.samples[-2], self.samples[-1]

    def rates(self) -> tuple[float | None, float | None, dict[str, float]]:
        """(records in per s, decisions out per s, per group commit rate) between the last two
        samples; None before there are two."""
        pair = self._last_two()
        if pair is None:
            return None, None, {}
        older, newer = pair
        seconds = (newer.time_ms - older.time_ms) / 1000
        topics = self.sources.topics
        in_rate = _rate(
            older.ends.get(topics.transactions, 0), newer.ends.get(topics.transactions, 0), seconds
        )
        out_rate = _rate(
            older.ends.get(topics.fraud_scores, 0), newer.ends.get(topics.fraud_scores, 0), seconds
        )
        commits = {
            g: _rate(older.committed.get(g, 0), n, seconds) for g, n in newer.committed.items()
        }
        return in_rate, out_rate, commits

    def series(self) -> dict[str, Any]:
        """The last hour for the charts: times (s) and, per point, rates and each group's lag in
        records and in seconds (its oldest unread record's age; None where none was found)."""
        with self._lock:
            points = list(self.samples)
        topics = self.sources.topics
        times, rate_in, rate_out = [], [], []
        lag: dict[str, list[int]] = {g: [] for g in (points[-1].lag if points else {})}
        lag_s: dict[str, list[float | None]] = {g: [] for g in lag}
        for older, newer in pairwise(points):
            seconds = (newer.time_ms - older.time_ms) / 1000
            times.append(newer.time_ms / 1000)
            rate_in.append(
                _rate(
                    older.ends.get(topics.transactions, 0),
                    newer.ends.get(topics.transactions, 0),
                    seconds,
                )
            )
            rate_out.append(
                _rate(
                    older.ends.get(topics.fraud_scores, 0),
                    newer.ends.get(topics.fraud_scores, 0),
                    seconds,
                )
            )
            for group in lag:
                lag[group].append(newer.lag.get(group, 0))
                lag_s[group].append(newer.lag_s.get(group))
        return {
            "time": times,
            "in_per_s": rate_in,
            "out_per_s": rate_out,
            "lag": lag,
            "lag_seconds": lag_s,
        }

    def group_series(self, group: str) -> dict[str, Any]:
        """One group's lag at every sample of the last hour: in records, and in seconds (its
        oldest unread record's age then; None where none was found); times in seconds."""
        with self._lock:
            points = [p for p in self.samples if group in p.lag]
        return {
            "group": group,
            "time": [p.time_ms / 1000 for p in points],
            "lag": [p.lag[group] for p in points],
            "lag_seconds": [p.lag_s.get(group) for p in points],
        }


def _decisions(sources: ConsoleSources) -> dict[str, int]:
    """Decisions by type, summed over the detector workers' heartbeats."""
    status = group_status(
        sources.admin,
        sources.state,
        sources.settings.detector.group_id,
        sources.topics.transactions,
    )
    totals: dict[str, int] = {}
    for worker in status.workers:
        for decision, count in (worker.get("decisions") or {}).items():
            totals[decision] = totals.get(decision, 0) + int(count)
    return dict(sorted(totals.items()))


def latency_ms(browser: MessageBrowser, sources: ConsoleSources) -> dict[str, float | None]:
    """p50/p99 of produced -> decided over the newest decisions of every partition."""
    topic = sources.topics.fraud_scores
    info = sources.admin.describe_topics([topic]).get(topic)
    if info is None:
        return {"p50": None, "p99": None, "sample": 0}
    records = browser.browse(
        topic,
        info.partitions,
        BrowseQuery(limit=LATENCY_SAMPLE * info.partitions, per_partition=LATENCY_SAMPLE),
    )
    waits = [
        r.value["decided_time"] - r.value["produced_time"]
        for r in records
        if r.value and "decided_time" in r.value and "produced_time" in r.value
    ]
    if not waits:
        return {"p50": None, "p99": None, "sample": 0}
    p50, p99 = np.percentile(np.asarray(waits, dtype=np.float64), [50, 99])
    return {"p50": round(float(p50), 1), "p99": round(float(p99), 1), "sample": len(waits)}


def _as_sampled(latest: OffsetSample, status: GroupStatus) -> bool:
    """Whether the group's committed offsets and lag are what the sample saw."""
    return (
        status.group in latest.oldest_ms
        and latest.lag.get(status.group) == status.total_lag
        and latest.committed.get(status.group) == sum(status.committed.values())
    )


def current_ages(sampler: OverviewSampler, statuses: list[GroupStatus]) -> dict[str, float | None]:
    """Each group's oldest unread record's age now: the newest sample's timestamp against the
    clock, read again for a group that has moved since or when the sample is too old."""
    sources = sampler.sources
    now = sources.clock.now_ms()
    latest = sampler.latest()
    times: dict[str, int | None] = {}
    if latest is not None and now - latest.time_ms <= 2 * sampler.interval_s * 1000:
        times = {s.group: latest.oldest_ms[s.group] for s in statuses if _as_sampled(latest, s)}
    changed = [s for s in statuses if s.group not in times]
    if changed:
        times |= oldest_unread_times(sources, changed)
    return {s.group: age_s(now, s.total_lag, times[s.group]) for s in statuses}


def read_overview(sampler: OverviewSampler, browser: MessageBrowser) -> Overview:
    """Everything the overview shows, from the samples and one read of each source."""
    sources = sampler.sources
    in_rate, out_rate, commits = sampler.rates()
    statuses = [
        group_status(sources.admin, sources.state, group, topic)
        for group, topic in our_groups(sources.settings)
    ]
    ages = current_ages(sampler, statuses)
    groups = []
    for status in statuses:
        group, topic = status.group, status.topic
        rate = commits.get(group)
        seconds = status.total_lag / rate if rate else None
        groups.append(
            {
                "group": group,
                "topic": topic,
                "lag": status.total_lag,
                "lag_seconds": None if seconds is None else round(seconds, 1),
                "oldest_unread_seconds": ages[group],
                "partitions": {str(p): n for p, n in sorted(status.lag.items())},
                "workers": len(status.workers),
            }
        )
    now = sources.clock.now_ms()
    stats = read_stats(sources.state, sources.settings.alerts, now)
    return Overview(
        time_ms=now,
        in_rate=in_rate,
        out_rate=out_rate,
        groups=groups,
        decisions=_decisions(sources),
        alerts=dict(sorted(stats.alerts.items())),
        dead_letters=dead_letter_counts(sources.state),
        store=sources.state.info(),
        latency_ms=latency_ms(browser, sources),
    )
