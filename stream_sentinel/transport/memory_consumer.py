"""The embedded broker's consumer: groups, eager rebalances, offsets (see :mod:`.memory`)."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

from stream_sentinel.errors import TransportError
from stream_sentinel.transport.base import (
    GroupMetadata,
    OffsetReset,
    RebalanceListener,
    Record,
    TopicPartition,
)
from stream_sentinel.transport.memory_log import MemoryCluster

OFFSET_BEGINNING = -2
OFFSET_END = -1


class MemoryConsumer:
    """A consumer over a :class:`MemoryCluster`; callbacks run inside :meth:`consume`."""

    def __init__(
        self,
        cluster: MemoryCluster,
        group_id: str | None,
        auto_offset_reset: OffsetReset,
        client_id: str = "",
    ) -> None:
        self._cluster = cluster
        self._client_id = client_id
        self._group_id = group_id
        self._reset = auto_offset_reset
        self._member_id: str | None = None
        self._listener: RebalanceListener | None = None
        self._owned: list[TopicPartition] = []
        self._positions: dict[TopicPartition, int] = {}
        self._generation = -1
        self._next_partition = 0
        self._closed = False

    # -- membership -------------------------------------------------------------------------------
    def subscribe(self, topics: Sequence[str], listener: RebalanceListener | None = None) -> None:
        if self._group_id is None:
            raise TransportError(
                "subscribe() needs a group_id; use assign() to read without a group"
            )
        for topic in topics:
            self._cluster.partitions(topic)  # unknown topics fail now, with the fix in the message
        with self._cluster.lock:
            self._listener = listener
            self._member_id = self._cluster.new_member_id(self._group_id)
            self._cluster.join(self._group_id, self._member_id, tuple(topics), self._client_id)

    def assign(self, partitions: Mapping[TopicPartition, int]) -> None:
        with self._cluster.lock:
            self._owned = list(partitions)
            self._positions = {tp: self._resolve(tp, offset) for tp, offset in partitions.items()}

    def _sync_group(self) -> None:
        """Take part in a pending rebalance: revoke (eager), then pick up the new assignment."""
        if self._member_id is None or self._group_id is None:
            return
        cluster, member = self._cluster, self._member_id
        with cluster.lock:
            group = cluster.group(self._group_id)
            must_revoke = group.rebalancing and group.acked.get(member) != group.rebalance_round
            revoked = list(self._owned)
        if must_revoke:
            if revoked and self._listener is not None:
                self._listener.on_revoke(revoked)
            with cluster.lock:
                self._owned = []
                self._positions = {}
                cluster.ack_rebalance(group, member)
        with cluster.lock:
            if group.rebalancing or self._generation == group.generation:
                return
            self._generation = group.generation
            self._owned = list(group.assignment.get(member, []))
            self._positions = {tp: self._initial_position(tp) for tp in self._owned}
            assigned = list(self._owned)
        if self._listener is not None:
            self._listener.on_assign(assigned)

    def _initial_position(self, tp: TopicPartition) -> int:
        committed = self._cluster.group(self._group_id or "").committed.get(tp)
        if committed is not None:
            return committed
        return self._resolve(tp, OFFSET_BEGINNING if self._reset == "earliest" else OFFSET_END)

    def _resolve(self, tp: TopicPartition, offset: int) -> int:
        if offset == OFFSET_BEGINNING:
            return 0
        if offset == OFFSET_END:
            return len(self._cluster.log(tp.topic, tp.partition))
        return offset

    # -- reading ----------------------------------------------------------------------------------
    def consume(self, max_records: int, timeout_s: float) -> list[Record]:
        if self._closed:
            raise TransportError("consumer is closed")
        deadline = time.monotonic() + max(timeout_s, 0.0)
        while True:
            self._sync_group()
            with self._cluster.lock:
                records = self._fetch(max_records)
                remaining = deadline - time.monotonic()
                if records or remaining <= 0:
                    return records
                self._cluster.changed.wait(remaining)

    def _fetch(self, max_records: int) -> list[Record]:
        out: list[Record] = []
        owned = self._owned
        for i in range(len(owned)):
            if len(out) >= max_records:
                break
            tp = owned[(self._next_partition + i) % len(owned)]
            log = self._cluster.log(tp.topic, tp.partition)
            position = self._positions.get(tp, 0)
            while position < len(log) and len(out) < max_records:
                record = log[position]
                position += 1
                if record is not None:
                    out.append(record)
            self._positions[tp] = position
        if owned:
            self._next_partition = (self._next_partition + 1) % len(owned)
        return out

    # -- offsets ----------------------------------------------------------------------------------
    def commit(self, offsets: Mapping[TopicPartition, int], asynchronous: bool = False) -> None:
        if self._group_id is None:
            raise TransportError("commit() needs a consumer created with a group_id")
        with self._cluster.lock:
            foreign = [tp for tp in offsets if tp not in self._owned]
            if foreign:
                raise TransportError(
                    f"commit failed: {foreign[0].topic}[{foreign[0].partition}] is not assigned "
                    "to this consumer (the group rebalanced)"
                )
            self._cluster.group(self._group_id).committed.update(offsets)

    def committed(
        self, partitions: Sequence[TopicPartition], timeout_s: float = 10.0
    ) -> dict[TopicPartition, int | None]:
        if self._group_id is None:
            raise TransportError("committed() needs a consumer created with a group_id")
        with self._cluster.lock:
            committed = self._cluster.group(self._group_id).committed
            return {tp: committed.get(tp) for tp in partitions}

    def seek(self, partition: TopicPartition, offset: int) -> None:
        with self._cluster.lock:
            if partition not in self._owned:
                raise TransportError(f"cannot seek {partition}: not assigned to this consumer")
            self._positions[partition] = self._resolve(partition, offset)

    def position(self, partition: TopicPartition) -> int | None:
        return self._positions.get(partition)

    def assignment(self) -> list[TopicPartition]:
        return list(self._owned)

    def group_metadata(self) -> GroupMetadata:
        if self._group_id is None or self._member_id is None:
            raise TransportError("group_metadata() needs a subscribed consumer with a group_id")
        return GroupMetadata(self._group_id, self._generation, self._member_id)

    def watermarks(
        self, partition: TopicPartition, timeout_s: float = 10.0, cached: bool = False
    ) -> tuple[int, int]:
        with self._cluster.lock:
            return (0, len(self._cluster.log(partition.topic, partition.partition)))

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._member_id is None or self._group_id is None:
            return
        if self._owned and self._listener is not None:
            self._listener.on_revoke(list(self._owned))
        with self._cluster.lock:
            self._owned = []
            self._cluster.leave(self._group_id, self._member_id)
