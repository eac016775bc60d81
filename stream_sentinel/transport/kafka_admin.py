"""Topic and consumer-group administration on real Kafka (confluent-kafka's AdminClient)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from confluent_kafka import ConsumerGroupTopicPartitions, IsolationLevel, KafkaError, KafkaException
from confluent_kafka import TopicPartition as KafkaTopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic, OffsetSpec

from stream_sentinel.clock import SYSTEM_CLOCK, Clock
from stream_sentinel.errors import TransportError
from stream_sentinel.transport.base import (
    BrokerInfo,
    ClusterInfo,
    GroupDescription,
    GroupMember,
    TopicInfo,
    TopicPartition,
    TopicSpec,
)
from stream_sentinel.transport.retry import Backoff, retrying

_TIMEOUT_S = 15.0
METADATA_POLL_S = 0.05  # how often new topics are looked for in metadata


class _NotInMetadataYet(TransportError):
    """New topics that the broker's metadata does not show yet."""


def _error_of(exc: Exception) -> KafkaError | None:
    if isinstance(exc, KafkaException) and exc.args and isinstance(exc.args[0], KafkaError):
        return exc.args[0]
    return None


class KafkaAdmin:
    """The :class:`~.base.Admin` interface over confluent-kafka's AdminClient."""

    def __init__(
        self, config: dict[str, Any], timeout_s: float = _TIMEOUT_S, clock: Clock = SYSTEM_CLOCK
    ) -> None:
        """``clock`` paces the wait for new topics to show in metadata."""
        self._admin = AdminClient(config)
        self._timeout_s = timeout_s
        self._clock = clock

    def describe_cluster(self) -> ClusterInfo:
        try:
            metadata = self._admin.list_topics(timeout=self._timeout_s)
        except KafkaException as exc:
            raise TransportError(f"broker metadata request failed: {exc.args[0].str()}") from exc
        return ClusterInfo(len(metadata.brokers), metadata.controller_id, metadata.cluster_id)

    def describe_brokers(self, config_names: Sequence[str]) -> list[BrokerInfo]:
        try:
            brokers = self._admin.list_topics(timeout=self._timeout_s).brokers
        except KafkaException as exc:
            raise TransportError(f"broker metadata request failed: {exc.args[0].str()}") from exc
        # One broker per request: librdkafka refuses more than one BROKER resource per call.
        futures = {
            resource: future
            for b in sorted(brokers)
            for resource, future in self._admin.describe_configs(
                [ConfigResource(ConfigResource.Type.BROKER, str(b))],
                request_timeout=self._timeout_s,
            ).items()
        }
        wanted = set(config_names)
        found: dict[int, dict[str, str]] = {}
        for resource, future in futures.items():
            try:
                entries = future.result()
            except Exception as exc:
                raise TransportError(f"describing broker {resource.name} failed: {exc}") from exc
            found[int(resource.name)] = {
                k: str(v.value)
                for k, v in entries.items()
                if k in wanted and v.value is not None and not v.is_sensitive
            }
        return [
            BrokerInfo(b, str(brokers[b].host), int(brokers[b].port), found.get(b, {}))
            for b in sorted(brokers)
        ]

    def create_topics(self, specs: Sequence[TopicSpec]) -> dict[str, bool]:
        if not specs:
            return {}
        new = [
            NewTopic(s.name, s.partitions, s.replication_factor or -1, config=dict(s.config))
            for s in specs
        ]
        futures = self._admin.create_topics(new, request_timeout=self._timeout_s)
        created = {}
        for name, future in futures.items():
            try:
                future.result()
                created[name] = True
            except Exception as exc:
                error = _error_of(exc)
                if error is not None and error.code() == KafkaError.TOPIC_ALREADY_EXISTS:
                    created[name] = False
                else:
                    raise TransportError(f"creating topic {name!r} failed: {exc}") from exc
        self._await_metadata([s.name for s in specs])
        return created

    def _await_metadata(self, names: Sequence[str]) -> None:
        """Return once the new topics show in metadata (creation completes asynchronously)."""

        def shown() -> None:
            topics = self._admin.list_topics(timeout=self._timeout_s).topics
            if not all(n in topics and topics[n].partitions for n in names):
                raise _NotInMetadataYet(f"topics {list(names)} did not appear in metadata in time")

        poll = Backoff(METADATA_POLL_S, METADATA_POLL_S, budget_s=self._timeout_s)
        retrying(shown, poll, retriable=(_NotInMetadataYet,), clock=self._clock)

    def describe_topics(self, names: Sequence[str] | None = None) -> dict[str, TopicInfo]:
        try:
            metadata = self._admin.list_topics(timeout=self._timeout_s)
        except KafkaException as exc:
            raise TransportError(f"listing topics failed: {exc}") from exc
        wanted = [
            n for n in (names if names is not None else metadata.topics) if n in metadata.topics
        ]
        wanted = [n for n in wanted if names is not None or not n.startswith("__")]
        configs = self._configs(wanted)
        return {name: _topic_info(metadata.topics[name], configs.get(name, {})) for name in wanted}

    def _configs(self, names: Sequence[str]) -> dict[str, dict[str, str]]:
        if not names:
            return {}
        resources = [ConfigResource(ConfigResource.Type.TOPIC, n) for n in names]
        futures = self._admin.describe_configs(resources, request_timeout=self._timeout_s)
        out: dict[str, dict[str, str]] = {}
        for resource, future in futures.items():
            try:
                entries = future.result()
            except Exception as exc:
                raise TransportError(f"describing {resource.name!r} failed: {exc}") from exc
            out[resource.name] = {
                k: str(v.value) for k, v in entries.items() if v.value is not None
            }
        return out

    def delete_topics(self, names: Sequence[str]) -> None:
        if not names:
            return
        futures = self._admin.delete_topics(list(names), request_timeout=self._timeout_s)
        for name, future in futures.items():
            try:
                future.result()
            except Exception as exc:
                error = _error_of(exc)
                if error is None or error.code() != KafkaError.UNKNOWN_TOPIC_OR_PART:
                    raise TransportError(f"deleting topic {name!r} failed: {exc}") from exc

    def list_groups(self) -> list[str]:
        try:
            result = self._admin.list_consumer_groups(request_timeout=self._timeout_s).result()
        except Exception as exc:
            raise TransportError(f"listing consumer groups failed: {exc}") from exc
        return sorted(g.group_id for g in result.valid)

    def group_offsets(self, group_id: str) -> dict[TopicPartition, int]:
        request = [ConsumerGroupTopicPartitions(group_id)]
        futures = self._admin.list_consumer_group_offsets(request, request_timeout=self._timeout_s)
        try:
            result = futures[group_id].result()
        except Exception as exc:
            raise TransportError(f"offsets of group {group_id!r}: {exc}") from exc
        return {
            TopicPartition(p.topic, p.partition): int(p.offset)
            for p in result.topic_partitions
            if p.offset >= 0
        }

    def describe_groups(self, group_ids: Sequence[str]) -> dict[str, GroupDescription]:
        if not group_ids:
            return {}
        futures = self._admin.describe_consumer_groups(
            list(group_ids), request_timeout=self._timeout_s
        )
        out = {}
        for group_id, future in futures.items():
            try:
                out[group_id] = _group_description(future.result())
            except Exception as exc:
                raise TransportError(f"describing group {group_id!r} failed: {exc}") from exc
        return out

    def offsets_for_times(
        self, times_ms: Mapping[TopicPartition, int]
    ) -> dict[TopicPartition, int]:
        if not times_ms:
            return {}
        specs = {tp: OffsetSpec.for_timestamp(time_ms) for tp, time_ms in times_ms.items()}
        found = self._list_offsets(specs, "offset for time")
        missing = [tp for tp, offset in found.items() if offset < 0]  # no record that recent
        return found | self.end_offsets(missing)

    def end_offsets(self, partitions: Sequence[TopicPartition]) -> dict[TopicPartition, int]:
        if not partitions:
            return {}
        return self._list_offsets({tp: OffsetSpec.latest() for tp in partitions}, "end offset")

    def _list_offsets(
        self, specs: Mapping[TopicPartition, OffsetSpec], what: str
    ) -> dict[TopicPartition, int]:
        request = {KafkaTopicPartition(tp.topic, tp.partition): spec for tp, spec in specs.items()}
        futures = self._admin.list_offsets(
            request,
            isolation_level=IsolationLevel.READ_UNCOMMITTED,
            request_timeout=self._timeout_s,
        )
        out = {}
        for ktp, future in futures.items():
            try:
                out[TopicPartition(ktp.topic, ktp.partition)] = int(future.result().offset)
            except Exception as exc:
                raise TransportError(f"{what} of {ktp.topic}[{ktp.partition}]: {exc}") from exc
        return out

    def close(self) -> None:
        return None


def _topic_info(topic: Any, config: dict[str, str]) -> TopicInfo:
    """Our record of a topic's metadata: partitions, replicas and in-sync replicas."""
    partitions = [topic.partitions[p] for p in sorted(topic.partitions)]
    return TopicInfo(
        topic.topic,
        len(partitions),
        config,
        replication_factor=max((len(p.replicas) for p in partitions), default=1),
        in_sync=tuple(len(p.isrs) for p in partitions),
        leaderless=tuple(p.id for p in partitions if p.leader < 0),
    )


def _group_description(found: Any) -> GroupDescription:
    """Our record of confluent-kafka's ConsumerGroupDescription."""
    state = getattr(found.state, "name", str(found.state)).lower()
    members = tuple(
        sorted(
            (
                GroupMember(
                    m.member_id,
                    m.client_id,
                    m.host,
                    tuple(
                        sorted(
                            TopicPartition(p.topic, p.partition)
                            for p in (m.assignment.topic_partitions if m.assignment else [])
                        )
                    ),
                )
                for m in found.members
            ),
            key=lambda m: m.member_id,
        )
    )
    return GroupDescription(found.group_id, state, members)
