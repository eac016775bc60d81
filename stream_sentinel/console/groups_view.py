"""A consumer group's page: its members and what each holds, lag per partition in records and
in seconds, and its lag over the sampled hour.

Lag in seconds is the age of the oldest record the group has not consumed: the timestamp of the
first record at or after the committed offset, against the console's clock. It reads a few
offsets of each lagging partition whose committed offset it has not read at before
(``first_records.py``), group-less, committing nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from stream_sentinel.console.sources import ConsoleSources
from stream_sentinel.errors import UsageError
from stream_sentinel.ops.status import GroupStatus, group_status, our_groups
from stream_sentinel.transport.base import GroupMember, TopicPartition


@dataclass(frozen=True, slots=True)
class PartitionLag:
    partition: int
    committed: int | None
    end: int
    lag: int
    oldest_unread_ms: int | None  # timestamp of the first record not consumed yet
    lag_seconds: float | None  # its age; 0 when nothing is unread
    member_id: str | None  # who holds the partition now

    def as_json(self) -> dict[str, Any]:
        return {
            "partition": self.partition,
            "committed": self.committed,
            "end": self.end,
            "lag": self.lag,
            "oldest_unread_ms": self.oldest_unread_ms,
            "lag_seconds": self.lag_seconds,
            "member_id": self.member_id,
        }


def topic_of(sources: ConsoleSources, group: str) -> str:
    """The input topic of one of our groups (UsageError for any other group)."""
    ours = dict(our_groups(sources.settings))
    if group not in ours:
        raise UsageError(f"unknown consumer group {group!r}: the console shows {', '.join(ours)}")
    return ours[group]


def _owners(members: tuple[GroupMember, ...], topic: str) -> dict[int, str]:
    return {tp.partition: m.member_id for m in members for tp in m.assignment if tp.topic == topic}


def age_s(now_ms: int, lag: int, oldest_ms: int | None) -> float | None:
    """The oldest unread record's age in seconds: 0 when nothing is unread, None when it was
    not found."""
    if lag == 0:
        return 0.0
    return None if oldest_ms is None else round(max(now_ms - oldest_ms, 0) / 1000, 1)


def _unread(status: GroupStatus) -> dict[TopicPartition, tuple[int, int]]:
    """The [committed, end) span of each partition the group lags on."""
    spans = {}
    for p, lag in status.lag.items():
        start = status.committed.get(p, 0)
        if lag > 0:
            spans[TopicPartition(status.topic, p)] = (start, start + lag)
    return spans


def partition_lags(
    sources: ConsoleSources, status: GroupStatus, owners: Mapping[int, str]
) -> list[PartitionLag]:
    """Per partition: committed, end, lag, the oldest unread record's time and its age."""
    oldest = sources.first_records.oldest(_unread(status))
    now = sources.clock.now_ms()
    rows = []
    for p, lag in sorted(status.lag.items()):
        committed = status.committed.get(p)
        seen = oldest.get(TopicPartition(status.topic, p))
        end = (committed or 0) + lag
        rows.append(
            PartitionLag(p, committed, end, lag, seen, age_s(now, lag, seen), owners.get(p))
        )
    return rows


def _rounds(statuses: list[GroupStatus]) -> list[list[GroupStatus]]:
    """The groups in rounds in which no partition is read for two groups: groups on one topic
    (``detector-feedback`` and ``feedback-store`` on ``fraud-feedback``) have their own spans."""
    rounds: list[list[GroupStatus]] = []
    for status in statuses:
        lagging = set(_unread(status))
        free = (r for r in rounds if not any(lagging & set(_unread(s)) for s in r))
        room = next(free, None)
        if room is None:
            rounds.append([status])
        else:
            room.append(status)
    return rounds


def oldest_unread_times(
    sources: ConsoleSources, statuses: list[GroupStatus]
) -> dict[str, int | None]:
    """Per group, the timestamp (ms) of its oldest unread record (None when it lags on nothing
    or none was found), one bounded read per round of groups that share no partition."""
    times: dict[str, int | None] = {}
    for round_ in _rounds(statuses):
        spans = {tp: span for status in round_ for tp, span in _unread(status).items()}
        oldest = sources.first_records.oldest(spans) if spans else {}
        for status in round_:
            seen = [oldest[tp] for tp in _unread(status) if tp in oldest]
            times[status.group] = min(seen) if seen else None
    return times


def oldest_unread_ages(
    sources: ConsoleSources, statuses: list[GroupStatus]
) -> dict[str, float | None]:
    """Per group, the age in seconds of its oldest unread record (0 when it lags on nothing,
    None when none was found)."""
    times = oldest_unread_times(sources, statuses)
    now = sources.clock.now_ms()
    return {s.group: age_s(now, s.total_lag, times[s.group]) for s in statuses}


def read_group(sources: ConsoleSources, group: str) -> dict[str, Any]:
    """Everything the group's page shows (its JSON twin is this dict)."""
    topic = topic_of(sources, group)
    status = group_status(sources.admin, sources.state, group, topic)
    described = sources.admin.describe_groups([group])[group]
    rows = partition_lags(sources, status, _owners(described.members, topic))
    ages = [r.lag_seconds for r in rows if r.lag_seconds is not None]
    return {
        "group": group,
        "topic": topic,
        "state": described.state,
        "members": [
            {
                "member_id": m.member_id,
                "client_id": m.client_id,
                "host": m.host,
                "partitions": [tp.partition for tp in m.assignment if tp.topic == topic],
            }
            for m in described.members
        ],
        "total_lag": status.total_lag,
        "lag_seconds": max(ages) if ages else None,
        "partitions": [r.as_json() for r in rows],
        "workers": status.workers,
    }
