"""The broker interface: what every part of Stream-Sentinel needs from a log.

Two implementations sit behind it: :mod:`.kafka` (confluent-kafka / librdkafka, the real one) and
:mod:`.memory` (an in-process partitioned log for the embedded mode). One contract suite
(``tests/contract/broker_contract.py``) runs against both; the console's reads of groups and
times have theirs (``tests/contract/console_reads_contract.py``).

Records follow confluent-kafka's ``Message`` methods (``value()``, ``key()``, ``offset()``...) so
the real backend hands librdkafka's messages through without copying them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, NamedTuple, Protocol

Isolation = Literal["read_committed", "read_uncommitted"]
OffsetReset = Literal["earliest", "latest"]

#: ``timestamp()[0]`` values, as in librdkafka.
TIMESTAMP_NOT_AVAILABLE = 0
TIMESTAMP_CREATE_TIME = 1
TIMESTAMP_LOG_APPEND_TIME = 2


class TopicPartition(NamedTuple):
    topic: str
    partition: int


class Record(Protocol):
    """One consumed record (confluent-kafka's ``Message`` satisfies this)."""

    def topic(self) -> str | None: ...
    def partition(self) -> int | None: ...
    def offset(self) -> int | None: ...
    def key(self) -> bytes | None: ...
    def value(self) -> bytes | None: ...
    def timestamp(self) -> tuple[int, int]: ...
    def headers(self) -> list[tuple[str, bytes | None]] | None: ...


@dataclass(frozen=True, slots=True)
class TopicSpec:
    """A topic as the project wants it: name, partition count and topic configs."""

    name: str
    partitions: int
    config: Mapping[str, str] = field(default_factory=dict)
    replication_factor: int | None = None  # None: the broker's default.replication.factor


@dataclass(frozen=True, slots=True)
class TopicInfo:
    """A topic as the broker reports it."""

    name: str
    partitions: int
    config: Mapping[str, str]
    replication_factor: int = 1
    in_sync: tuple[int, ...] = ()  # in-sync replica count per partition (empty: not reported)
    leaderless: tuple[int, ...] = ()  # partitions without a leader (offline)

    @property
    def under_replicated(self) -> tuple[int, ...]:
        """Partitions with fewer in-sync replicas than replicas (a broker down or behind)."""
        return tuple(p for p, isr in enumerate(self.in_sync) if isr < self.replication_factor)


@dataclass(frozen=True, slots=True)
class ClusterInfo:
    """What the broker says about itself."""

    brokers: int
    controller_id: int
    cluster_id: str | None


@dataclass(frozen=True, slots=True)
class BrokerInfo:
    """One broker: its id, address and the configs asked for (absent: unknown or sensitive)."""

    broker_id: int
    host: str
    port: int
    config: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class GroupMetadata:
    """Consumer group generation info handed to a transaction (fences zombies, KIP-447)."""

    group_id: str
    generation: int
    member_id: str
    native: object = None  # the backend's own object (confluent's ConsumerGroupMetadata)


@dataclass(frozen=True, slots=True)
class GroupMember:
    """One member of a consumer group as the coordinator reports it."""

    member_id: str
    client_id: str
    host: str
    assignment: tuple[TopicPartition, ...]  # sorted


@dataclass(frozen=True, slots=True)
class GroupDescription:
    """A consumer group's state and members (``state`` in lower case: stable, empty, ...)."""

    group_id: str
    state: str
    members: tuple[GroupMember, ...]  # sorted by member id


class RebalanceListener(Protocol):
    """Callbacks run inside ``consume()`` when the group changes (eager protocol)."""

    def on_assign(self, partitions: list[TopicPartition]) -> None: ...
    def on_revoke(self, partitions: list[TopicPartition]) -> None: ...
    def on_lost(self, partitions: list[TopicPartition]) -> None: ...


DeliveryCallback = Callable[[str | None, TopicPartition | None, int | None], None]
"""Called once per produced record: (error or None, where it landed, its offset)."""


class Producer(Protocol):
    def produce(
        self,
        topic: str,
        value: bytes | None,
        key: bytes | None = None,
        *,
        partition: int | None = None,
        timestamp_ms: int | None = None,
        headers: Sequence[tuple[str, bytes]] | None = None,
        on_delivery: DeliveryCallback | None = None,
    ) -> None:
        """Queue a record. Without ``partition``, a keyed record goes where murmur2 puts it."""

    def poll(self, timeout_s: float = 0.0) -> int:
        """Serve delivery callbacks; returns how many were served."""

    def flush(self, timeout_s: float = 30.0) -> int:
        """Wait for every queued record; returns how many are still undelivered."""

    def delivery_failures(self) -> int:
        """How many records this producer failed to deliver so far (after its own retries)."""

    def refused_for_good(self) -> int:
        """How many of those failures retrying cannot fix (a record over the broker's size
        limit, an invalid record), so far."""

    def init_transactions(self, timeout_s: float = 30.0) -> None:
        """Register the transactional id and fence any older producer that used it."""

    def begin_transaction(self) -> None: ...

    def send_offsets_to_transaction(
        self,
        offsets: Mapping[TopicPartition, int],
        group: GroupMetadata,
        timeout_s: float = 30.0,
    ) -> None:
        """Commit these consumed offsets (next offset to read) atomically with the outputs."""

    def commit_transaction(self, timeout_s: float = 30.0) -> None:
        """Make outputs and offsets visible together (TransactionAborted, ProducerFenced)."""

    def abort_transaction(self, timeout_s: float = 30.0) -> None: ...

    def close(self) -> None: ...


class Consumer(Protocol):
    def subscribe(self, topics: Sequence[str], listener: RebalanceListener | None = None) -> None:
        """Join the consumer group for these topics; assignments arrive inside consume()."""

    def assign(self, partitions: Mapping[TopicPartition, int]) -> None:
        """Read these partitions from these offsets, outside any group rebalancing."""

    def consume(self, max_records: int, timeout_s: float) -> list[Record]:
        """Up to ``max_records`` records; waits at most ``timeout_s`` for the first one."""

    def commit(self, offsets: Mapping[TopicPartition, int], asynchronous: bool = False) -> None:
        """Commit ``offsets`` (the next offset to read) for the group; synchronously unless
        ``asynchronous`` (then a failure only shows in the log)."""

    def committed(
        self, partitions: Sequence[TopicPartition], timeout_s: float = 10.0
    ) -> dict[TopicPartition, int | None]:
        """The group's committed offsets (None where nothing was committed)."""

    def seek(self, partition: TopicPartition, offset: int) -> None:
        """Make the next consume() of ``partition`` start at ``offset``."""

    def position(self, partition: TopicPartition) -> int | None:
        """The offset the next consumed record of ``partition`` will have, if known."""

    def assignment(self) -> list[TopicPartition]: ...

    def group_metadata(self) -> GroupMetadata: ...

    def watermarks(
        self, partition: TopicPartition, timeout_s: float = 10.0, cached: bool = False
    ) -> tuple[int, int]:
        """(low, high) offsets of the partition; high is the next offset to be written.

        ``cached`` answers from what the last fetches reported, without a request (falling back
        to a request when nothing is known yet)."""

    def close(self) -> None:
        """Leave the group (revoking partitions) and release resources."""


class Admin(Protocol):
    def describe_cluster(self) -> ClusterInfo:
        """Broker count and controller (a metadata round trip)."""

    def describe_brokers(self, config_names: Sequence[str]) -> list[BrokerInfo]:
        """Every broker (by id) with its value of each named broker config."""

    def create_topics(self, specs: Sequence[TopicSpec]) -> dict[str, bool]:
        """Create missing topics; maps each name to True (created) or False (already there)."""

    def describe_topics(self, names: Sequence[str] | None = None) -> dict[str, TopicInfo]:
        """Partition counts and non-default configs of the named topics (all when None)."""

    def delete_topics(self, names: Sequence[str]) -> None: ...

    def list_groups(self) -> list[str]: ...

    def group_offsets(self, group_id: str) -> dict[TopicPartition, int]:
        """The group's committed offsets."""

    def end_offsets(self, partitions: Sequence[TopicPartition]) -> dict[TopicPartition, int]:
        """High watermarks (the offset the next record will get)."""

    def describe_groups(self, group_ids: Sequence[str]) -> dict[str, GroupDescription]:
        """State and members (with their assigned partitions) of each group; a group nobody
        ever joined is reported as ``dead`` with no members."""

    def offsets_for_times(
        self, times_ms: Mapping[TopicPartition, int]
    ) -> dict[TopicPartition, int]:
        """Per partition, the first offset whose record's timestamp is at or after the time;
        the end offset where no record is that recent."""

    def close(self) -> None: ...


class Broker(Protocol):
    """Factory for clients of one cluster. Constructing it makes no network call."""

    name: str

    def producer(
        self,
        *,
        transactional_id: str | None = None,
        low_latency: bool | None = None,
        delivery_timeout_ms: int | None = None,
    ) -> Producer:
        """A producer; ``delivery_timeout_ms`` bounds how long a record may wait for its
        acknowledgement before it fails (default: the client's, 5 minutes)."""

    def consumer(
        self,
        group_id: str | None,
        *,
        isolation: Isolation = "read_committed",
        auto_offset_reset: OffsetReset = "earliest",
        low_latency: bool | None = None,
        partition_fetch_bytes: int | None = None,
    ) -> Consumer:
        """A consumer; ``partition_fetch_bytes`` bounds what one fetch brings of a partition (a
        bounded reader's: a few records wanted, not the default megabyte; the broker still
        sends at least one whole record batch)."""

    def admin(self) -> Admin: ...

    def close(self) -> None: ...


class NoopListener:
    """A rebalance listener that does nothing (useful as a base class)."""

    def on_assign(self, partitions: list[TopicPartition]) -> None:
        return None

    def on_revoke(self, partitions: list[TopicPartition]) -> None:
        return None

    def on_lost(self, partitions: list[TopicPartition]) -> None:
        return None
