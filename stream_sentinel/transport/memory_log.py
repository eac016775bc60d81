"""Storage of the embedded broker (see :mod:`.memory`): partition logs, groups, txn epochs."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field

from stream_sentinel.clock import SYSTEM_CLOCK, Clock
from stream_sentinel.errors import TransportError
from stream_sentinel.transport.base import TIMESTAMP_CREATE_TIME, GroupMetadata, TopicPartition


class MemoryRecord:
    """A stored record, with confluent-kafka's ``Message`` accessors."""

    __slots__ = ("_headers", "_key", "_offset", "_partition", "_timestamp", "_topic", "_value")

    def __init__(
        self,
        topic: str,
        partition: int,
        offset: int,
        key: bytes | None,
        value: bytes | None,
        timestamp_ms: int,
        headers: list[tuple[str, bytes | None]] | None,
    ) -> None:
        self._topic = topic
        self._partition = partition
        self._offset = offset
        self._key = key
        self._value = value
        self._timestamp = timestamp_ms
        self._headers = headers

    def topic(self) -> str:
        return self._topic

    def partition(self) -> int:
        return self._partition

    def offset(self) -> int:
        return self._offset

    def key(self) -> bytes | None:
        return self._key

    def value(self) -> bytes | None:
        return self._value

    def timestamp(self) -> tuple[int, int]:
        return (TIMESTAMP_CREATE_TIME, self._timestamp)

    def headers(self) -> list[tuple[str, bytes | None]] | None:
        return self._headers

    def error(self) -> None:
        return None

    def __repr__(self) -> str:
        return f"MemoryRecord({self._topic}[{self._partition}]@{self._offset}, key={self._key!r})"


# A partition log: records, or None for a transaction marker (takes an offset, never delivered).
Log = list[MemoryRecord | None]


@dataclass
class Group:
    group_id: str
    generation: int = 0
    members: dict[str, tuple[str, ...]] = field(default_factory=dict)  # member -> topics
    clients: dict[str, str] = field(default_factory=dict)  # member -> client id
    assignment: dict[str, list[TopicPartition]] = field(default_factory=dict)
    acked: dict[str, int] = field(default_factory=dict)  # member -> rebalance round handled
    rebalance_round: int = 0
    rebalancing: bool = False
    committed: dict[TopicPartition, int] = field(default_factory=dict)


class MemoryCluster:
    """The shared state of one embedded 'cluster': topics, groups, transactional ids."""

    def __init__(self, clock: Clock = SYSTEM_CLOCK) -> None:
        self.clock = clock
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.logs: dict[str, list[Log]] = {}
        self.configs: dict[str, dict[str, str]] = {}
        self.groups: dict[str, Group] = {}
        self.txn_epochs: dict[str, int] = {}
        self._member_ids = itertools.count(1)

    # -- topics -------------------------------------------------------------------------------
    def log(self, topic: str, partition: int) -> Log:
        try:
            return self.logs[topic][partition]
        except (KeyError, IndexError):
            raise TransportError(
                f"unknown topic or partition {topic}[{partition}]: create it first "
                "(stream-sentinel topics create)"
            ) from None

    def partitions(self, topic: str) -> int:
        if topic not in self.logs:
            raise TransportError(
                f"unknown topic {topic!r}: create it first (stream-sentinel topics create)"
            )
        return len(self.logs[topic])

    def append(
        self,
        topic: str,
        partition: int,
        key: bytes | None,
        value: bytes | None,
        timestamp_ms: int,
        headers: list[tuple[str, bytes | None]] | None,
    ) -> int:
        log = self.log(topic, partition)
        offset = len(log)
        log.append(MemoryRecord(topic, partition, offset, key, value, timestamp_ms, headers))
        return offset

    def append_marker(self, tp: TopicPartition) -> None:
        self.log(tp.topic, tp.partition).append(None)

    # -- groups ---------------------------------------------------------------------------------
    def new_member_id(self, group_id: str) -> str:
        return f"{group_id}-member-{next(self._member_ids)}"

    def group(self, group_id: str) -> Group:
        return self.groups.setdefault(group_id, Group(group_id))

    def join(
        self, group_id: str, member_id: str, topics: tuple[str, ...], client_id: str = ""
    ) -> None:
        group = self.group(group_id)
        group.members[member_id] = topics
        group.clients[member_id] = client_id
        self._start_rebalance(group)

    def leave(self, group_id: str, member_id: str) -> None:
        group = self.group(group_id)
        group.members.pop(member_id, None)
        group.clients.pop(member_id, None)
        group.acked.pop(member_id, None)
        group.assignment.pop(member_id, None)
        self._start_rebalance(group)

    def _start_rebalance(self, group: Group) -> None:
        group.rebalance_round += 1
        group.rebalancing = True
        self._maybe_complete_rebalance(group)

    def ack_rebalance(self, group: Group, member_id: str) -> None:
        group.acked[member_id] = group.rebalance_round
        self._maybe_complete_rebalance(group)

    def _maybe_complete_rebalance(self, group: Group) -> None:
        """Assign partitions once every member has revoked (the eager protocol's barrier)."""
        if not group.rebalancing:
            return
        if any(group.acked.get(m) != group.rebalance_round for m in group.members):
            return
        group.generation += 1
        group.rebalancing = False
        group.assignment = _round_robin(group.members, self)
        self.changed.notify_all()

    def is_current(self, metadata: GroupMetadata) -> bool:
        group = self.groups.get(metadata.group_id)
        return (
            group is not None
            and metadata.member_id in group.members
            and metadata.generation == group.generation
        )


def _round_robin(
    members: Mapping[str, tuple[str, ...]], cluster: MemoryCluster
) -> dict[str, list[TopicPartition]]:
    assignment: dict[str, list[TopicPartition]] = {m: [] for m in members}
    ordered = sorted(members)
    topics = sorted({t for subscribed in members.values() for t in subscribed if t in cluster.logs})
    slot = 0
    for topic in topics:
        for partition in range(len(cluster.logs[topic])):
            interested = [m for m in ordered if topic in members[m]]
            owner = interested[slot % len(interested)]
            assignment[owner].append(TopicPartition(topic, partition))
            slot += 1
    return assignment
