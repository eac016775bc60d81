"""The embedded broker: an in-process partitioned log with consumer groups and transactions.

It keeps the promises of the Kafka backend that the pipeline relies on, checked by the same
contract suite (``tests/contract/broker_contract.py``): keyed records land on
``murmur2(key) % partitions``; a consumer group splits partitions among its members with eager
rebalances (revoke everything, then assign) served inside ``consume()``; offsets are committed
per group; a transactional producer's records and consumed offsets become visible together at
commit, an aborted transaction leaves nothing visible, a newer producer with the same
transactional id fences the older one, and a transaction carrying offsets of a group that has
since rebalanced is aborted (KIP-447). Like Kafka, commit and abort markers take an offset.

Limits: one process; no retention, compaction, session timeouts or isolation levels beyond
read_committed (uncommitted records are buffered in the producer, so nobody can see them).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from stream_sentinel.clock import SYSTEM_CLOCK, Clock
from stream_sentinel.errors import TransportError
from stream_sentinel.transport.base import (
    BrokerInfo,
    ClusterInfo,
    GroupDescription,
    GroupMember,
    Isolation,
    OffsetReset,
    TopicInfo,
    TopicPartition,
    TopicSpec,
)
from stream_sentinel.transport.memory_consumer import MemoryConsumer
from stream_sentinel.transport.memory_log import Group, Log, MemoryCluster, MemoryRecord
from stream_sentinel.transport.memory_producer import MemoryProducer

__all__ = ["MemoryAdmin", "MemoryBroker", "MemoryCluster", "MemoryRecord"]

CLIENT_ID = "embedded"  # what embedded group members report as their client id
HOST = "in-process"  # and as their host


def _state(group: Group | None) -> str:
    """The group's state in Kafka's words (lower case)."""
    if group is None:
        return "dead"
    if group.rebalancing:
        return "preparing_rebalance"
    return "stable" if group.members else "empty"


def _describe(group_id: str, group: Group | None) -> GroupDescription:
    if group is None:
        return GroupDescription(group_id, "dead", ())
    members = tuple(
        GroupMember(member, group.clients.get(member, ""), HOST, _assigned(group, member))
        for member in sorted(group.members)
    )
    return GroupDescription(group_id, _state(group), members)


def _assigned(group: Group, member: str) -> tuple[TopicPartition, ...]:
    """What the member holds; nothing while a rebalance is under way (eager protocol)."""
    return () if group.rebalancing else tuple(sorted(group.assignment.get(member, [])))


def _first_at_or_after(log: Log, time_ms: int) -> int:
    """The first record's offset whose timestamp is at or after ``time_ms``, as Kafka's time
    index answers; ``len(log)`` (the end) when none is."""
    for offset, record in enumerate(log):
        if record is not None and record.timestamp()[1] >= time_ms:
            return offset
    return len(log)


class MemoryAdmin:
    """Topic and group administration of a :class:`MemoryCluster`."""

    def __init__(self, cluster: MemoryCluster) -> None:
        self._cluster = cluster

    def describe_cluster(self) -> ClusterInfo:
        return ClusterInfo(brokers=1, controller_id=0, cluster_id="embedded")

    def describe_brokers(self, config_names: Sequence[str]) -> list[BrokerInfo]:
        """One in-process broker: one copy of everything, and no topic it is not asked for."""
        config = {
            "auto.create.topics.enable": "false",
            "offsets.topic.replication.factor": "1",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
        }
        return [
            BrokerInfo(0, "embedded", 0, {k: v for k, v in config.items() if k in config_names})
        ]

    def create_topics(self, specs: Sequence[TopicSpec]) -> dict[str, bool]:
        created = {}
        with self._cluster.lock:
            for spec in specs:
                if spec.partitions < 1:
                    raise TransportError(f"topic {spec.name!r} needs at least one partition")
                exists = spec.name in self._cluster.logs
                if not exists:
                    self._cluster.logs[spec.name] = [[] for _ in range(spec.partitions)]
                    self._cluster.configs[spec.name] = dict(spec.config)
                created[spec.name] = not exists
        return created

    def describe_topics(self, names: Sequence[str] | None = None) -> dict[str, TopicInfo]:
        with self._cluster.lock:
            wanted = list(self._cluster.logs) if names is None else names
            return {
                name: TopicInfo(
                    name, len(self._cluster.logs[name]), dict(self._cluster.configs[name])
                )
                for name in wanted
                if name in self._cluster.logs
            }

    def delete_topics(self, names: Sequence[str]) -> None:
        with self._cluster.lock:
            for name in names:
                self._cluster.logs.pop(name, None)
                self._cluster.configs.pop(name, None)

    def list_groups(self) -> list[str]:
        with self._cluster.lock:
            return sorted(self._cluster.groups)

    def group_offsets(self, group_id: str) -> dict[TopicPartition, int]:
        with self._cluster.lock:
            group = self._cluster.groups.get(group_id)
            return dict(group.committed) if group else {}

    def end_offsets(self, partitions: Sequence[TopicPartition]) -> dict[TopicPartition, int]:
        with self._cluster.lock:
            return {tp: len(self._cluster.log(tp.topic, tp.partition)) for tp in partitions}

    def describe_groups(self, group_ids: Sequence[str]) -> dict[str, GroupDescription]:
        with self._cluster.lock:
            return {g: _describe(g, self._cluster.groups.get(g)) for g in group_ids}

    def offsets_for_times(
        self, times_ms: Mapping[TopicPartition, int]
    ) -> dict[TopicPartition, int]:
        with self._cluster.lock:
            return {
                tp: _first_at_or_after(self._cluster.log(tp.topic, tp.partition), time_ms)
                for tp, time_ms in times_ms.items()
            }

    def close(self) -> None:
        return None


class MemoryBroker:
    """Factory of embedded clients sharing one :class:`MemoryCluster`."""

    name = "memory"

    def __init__(self, cluster: MemoryCluster | None = None, clock: Clock = SYSTEM_CLOCK) -> None:
        self.cluster = cluster or MemoryCluster(clock)

    def producer(
        self,
        *,
        transactional_id: str | None = None,
        low_latency: bool | None = None,
        delivery_timeout_ms: int | None = None,
    ) -> MemoryProducer:
        return MemoryProducer(self.cluster, transactional_id)

    def consumer(
        self,
        group_id: str | None,
        *,
        isolation: Isolation = "read_committed",
        auto_offset_reset: OffsetReset = "earliest",
        low_latency: bool | None = None,
        partition_fetch_bytes: int | None = None,  # nothing is fetched in process
    ) -> MemoryConsumer:
        return MemoryConsumer(self.cluster, group_id, auto_offset_reset, CLIENT_ID)

    def admin(self) -> MemoryAdmin:
        return MemoryAdmin(self.cluster)

    def close(self) -> None:
        return None
