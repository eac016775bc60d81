"""The real broker: confluent-kafka (librdkafka), wrapped once, thinly.

Settings become librdkafka keys here and nowhere else. No constructor touches the network:
clients are created when the Broker is asked for one. Records are librdkafka's own Message
objects (they already satisfy :class:`~stream_sentinel.transport.base.Record`), so the hot path
copies nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import confluent_kafka
from confluent_kafka import KafkaError, KafkaException
from confluent_kafka import TopicPartition as KafkaTopicPartition
from confluent_kafka.admin import AdminClient

from stream_sentinel.config import KafkaSettings
from stream_sentinel.errors import ConfigError, ServiceUnavailable, TransportError
from stream_sentinel.transport.base import (
    GroupMetadata,
    Isolation,
    OffsetReset,
    RebalanceListener,
    Record,
    TopicPartition,
)
from stream_sentinel.transport.kafka_admin import KafkaAdmin
from stream_sentinel.transport.kafka_producer import KafkaProducer

log = logging.getLogger(__name__)
_OFFSET_INVALID = confluent_kafka.OFFSET_INVALID


def probe_kafka(
    settings: KafkaSettings, timeout_s: float = 2.0, broker_id: int | None = None
) -> bool:
    """True when a broker of ``settings`` answers a metadata request within ``timeout_s``
    (and, with ``broker_id``, that broker is registered in the cluster)."""
    config = client_config(settings)
    config.pop("error_cb")  # a probe says yes or no; it does not log the client's retries
    admin = AdminClient(config)
    try:
        metadata = admin.list_topics(timeout=timeout_s)
    except Exception:
        return False
    return bool(metadata.brokers) and (broker_id is None or broker_id in metadata.brokers)


def client_config(settings: KafkaSettings) -> dict[str, Any]:
    """Connection and security keys shared by every client."""
    config: dict[str, Any] = {
        "bootstrap.servers": settings.bootstrap,
        "client.id": settings.client_id,
        "security.protocol": settings.security_protocol,
        "error_cb": _log_client_error,
    }
    if settings.security_protocol.startswith("SASL"):
        config["sasl.mechanism"] = settings.sasl_mechanism
        config["sasl.username"] = settings.sasl_username or ""
        password = settings.login_password()
        config["sasl.password"] = password.get_secret_value() if password else ""
    if settings.ssl_ca_location:
        config["ssl.ca.location"] = settings.ssl_ca_location
    return config


def producer_config(
    settings: KafkaSettings, transactional_id: str | None, low_latency: bool
) -> dict[str, Any]:
    config = client_config(settings) | {
        "acks": settings.acks,
        "enable.idempotence": settings.enable_idempotence,
        "linger.ms": 1 if low_latency else settings.linger_ms,
        "compression.type": settings.compression,
        "batch.size": settings.batch_size,
        "partitioner": settings.partitioner,
        "request.timeout.ms": settings.request_timeout_ms,
    }
    if transactional_id is not None:
        config["transactional.id"] = transactional_id
        config["transaction.timeout.ms"] = settings.transaction_timeout_ms
    return config


def consumer_config(
    settings: KafkaSettings,
    group_id: str | None,
    isolation: Isolation,
    auto_offset_reset: OffsetReset,
    low_latency: bool,
    partition_fetch_bytes: int | None = None,
) -> dict[str, Any]:
    """A consumer's librdkafka config; ``partition_fetch_bytes`` bounds what one fetch brings
    of a partition (``max.partition.fetch.bytes``, librdkafka's default a megabyte)."""
    if partition_fetch_bytes is not None and partition_fetch_bytes <= 0:
        raise ConfigError(
            f"partition_fetch_bytes must be a positive number of bytes, not "
            f"{partition_fetch_bytes}: leave it out for librdkafka's default"
        )
    config = client_config(settings) | {
        # librdkafka wants a group.id even for assign()-only readers (they never join).
        "group.id": group_id or f"{settings.client_id}-reader",
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "auto.offset.reset": auto_offset_reset,
        "isolation.level": isolation,
        "fetch.min.bytes": 1 if low_latency else settings.fetch_min_bytes,
        "fetch.wait.max.ms": 5 if low_latency else settings.fetch_wait_max_ms,
        "session.timeout.ms": settings.session_timeout_ms,
        "heartbeat.interval.ms": settings.heartbeat_interval_ms,
        "max.poll.interval.ms": settings.max_poll_interval_ms,
        "enable.partition.eof": False,
    }
    if partition_fetch_bytes is not None:
        config["max.partition.fetch.bytes"] = partition_fetch_bytes
    return config


def _log_client_error(error: KafkaError) -> None:
    """librdkafka reports connection trouble here; it keeps retrying on its own."""
    if error.fatal():
        log.error("Kafka client fatal error: %s", error.str())
    else:
        log.warning("Kafka: %s (retrying)", error.str())


def _tp(tp: KafkaTopicPartition) -> TopicPartition:
    return TopicPartition(tp.topic, tp.partition)


def _kafka_tps(offsets: Mapping[TopicPartition, int]) -> list[KafkaTopicPartition]:
    return [KafkaTopicPartition(tp.topic, tp.partition, offset) for tp, offset in offsets.items()]


class _ListenerAdapter:
    """Turns librdkafka's rebalance callbacks into :class:`~.base.RebalanceListener` calls."""

    def __init__(self, owner: KafkaConsumer, listener: RebalanceListener | None) -> None:
        self._owner = owner
        self._listener = listener

    def on_assign(self, consumer: Any, partitions: list[KafkaTopicPartition]) -> None:
        self._owner._in_assign = True
        try:
            if self._listener is not None:
                self._listener.on_assign([_tp(p) for p in partitions])
        finally:
            self._owner._in_assign = False
        seeks = self._owner._pending_seeks
        if seeks:
            # Offsets chosen inside on_assign go in through assign() (the documented way).
            for p in partitions:
                p.offset = seeks.pop(_tp(p), p.offset)
            consumer.assign(partitions)

    def on_revoke(self, consumer: Any, partitions: list[KafkaTopicPartition]) -> None:
        if self._listener is not None:
            self._listener.on_revoke([_tp(p) for p in partitions])

    def on_lost(self, consumer: Any, partitions: list[KafkaTopicPartition]) -> None:
        if self._listener is not None:
            self._listener.on_lost([_tp(p) for p in partitions])


class KafkaConsumer:
    """A confluent-kafka Consumer behind the :class:`~.base.Consumer` interface."""

    def __init__(self, config: dict[str, Any], group_id: str | None) -> None:
        self._consumer = confluent_kafka.Consumer(config)
        self._group_id = group_id
        self._in_assign = False
        self._pending_seeks: dict[TopicPartition, int] = {}

    def subscribe(self, topics: Sequence[str], listener: RebalanceListener | None = None) -> None:
        if self._group_id is None:
            raise TransportError(
                "subscribe() needs a group_id; use assign() to read without a group"
            )
        adapter = _ListenerAdapter(self, listener)
        self._consumer.subscribe(
            list(topics),
            on_assign=adapter.on_assign,
            on_revoke=adapter.on_revoke,
            on_lost=adapter.on_lost,
        )

    def assign(self, partitions: Mapping[TopicPartition, int]) -> None:
        self._consumer.assign(_kafka_tps(partitions))

    def consume(self, max_records: int, timeout_s: float) -> list[Record]:
        # librdkafka's consume(n, t) waits for n records or the full timeout; the interface
        # returns as soon as anything is there: take what is fetched, else wait for one.
        messages = self._consumer.consume(num_messages=max_records, timeout=0)
        if not messages and timeout_s > 0:
            messages = self._consumer.consume(num_messages=1, timeout=timeout_s)
            if messages and max_records > 1:
                messages += self._consumer.consume(num_messages=max_records - 1, timeout=0)
        if not messages:
            return []
        for message in messages:
            if message.error() is not None:
                return self._without_errors(messages)
        return messages  # type: ignore[return-value]

    def _without_errors(self, messages: list[Any]) -> list[Record]:
        good = []
        for message in messages:
            error = message.error()
            if error is None:
                good.append(message)
            elif error.fatal():
                raise TransportError(f"consumer fatal error: {error.str()}")
            elif error.code() != KafkaError._PARTITION_EOF:
                log.warning("Kafka consumer: %s (retrying)", error.str())
        return good

    def commit(self, offsets: Mapping[TopicPartition, int], asynchronous: bool = False) -> None:
        try:
            if asynchronous:
                self._consumer.commit(offsets=_kafka_tps(offsets), asynchronous=True)
            else:
                self._consumer.commit(offsets=_kafka_tps(offsets), asynchronous=False)
        except KafkaException as exc:
            raise TransportError(f"commit failed: {exc.args[0].str()}") from exc

    def committed(
        self, partitions: Sequence[TopicPartition], timeout_s: float = 10.0
    ) -> dict[TopicPartition, int | None]:
        tps = [KafkaTopicPartition(tp.topic, tp.partition) for tp in partitions]
        try:
            result = self._consumer.committed(tps, timeout=timeout_s)
        except KafkaException as exc:
            raise TransportError(f"reading committed offsets failed: {exc.args[0].str()}") from exc
        return {_tp(p): (None if p.offset == _OFFSET_INVALID else p.offset) for p in result}

    def seek(self, partition: TopicPartition, offset: int) -> None:
        if self._in_assign:
            self._pending_seeks[partition] = offset
            return
        try:
            self._consumer.seek(KafkaTopicPartition(partition.topic, partition.partition, offset))
        except KafkaException as exc:
            raise TransportError(f"cannot seek {partition}: {exc.args[0].str()}") from exc

    def position(self, partition: TopicPartition) -> int | None:
        [result] = self._consumer.position(
            [KafkaTopicPartition(partition.topic, partition.partition)]
        )
        return None if result.offset < 0 else int(result.offset)

    def assignment(self) -> list[TopicPartition]:
        return [_tp(p) for p in self._consumer.assignment()]

    def group_metadata(self) -> GroupMetadata:
        if self._group_id is None:
            raise TransportError("group_metadata() needs a consumer created with a group_id")
        native = self._consumer.consumer_group_metadata()
        return GroupMetadata(self._group_id, -1, self._consumer.memberid() or "", native)

    def watermarks(
        self, partition: TopicPartition, timeout_s: float = 10.0, cached: bool = False
    ) -> tuple[int, int]:
        tp = KafkaTopicPartition(partition.topic, partition.partition)
        try:
            if cached:
                known = self._consumer.get_watermark_offsets(tp, cached=True)
                if known is not None and known[1] >= 0:
                    return int(known[0]), int(known[1])
            low, high = self._consumer.get_watermark_offsets(tp, timeout=timeout_s)
        except KafkaException as exc:
            raise TransportError(f"watermarks of {partition}: {exc.args[0].str()}") from exc
        return int(low), int(high)

    def close(self) -> None:
        self._consumer.close()


class KafkaBroker:
    """Factory of confluent-kafka clients for one cluster. The constructor is offline."""

    name = "kafka"

    def __init__(self, settings: KafkaSettings) -> None:
        self.settings = settings

    def producer(
        self,
        *,
        transactional_id: str | None = None,
        low_latency: bool | None = None,
        delivery_timeout_ms: int | None = None,
    ) -> KafkaProducer:
        fast = self.settings.low_latency if low_latency is None else low_latency
        config = producer_config(self.settings, transactional_id, fast)
        if delivery_timeout_ms is not None:
            config["message.timeout.ms"] = delivery_timeout_ms
        return KafkaProducer(config)

    def consumer(
        self,
        group_id: str | None,
        *,
        isolation: Isolation = "read_committed",
        auto_offset_reset: OffsetReset = "earliest",
        low_latency: bool | None = None,
        partition_fetch_bytes: int | None = None,
    ) -> KafkaConsumer:
        fast = self.settings.low_latency if low_latency is None else low_latency
        config = consumer_config(
            self.settings, group_id, isolation, auto_offset_reset, fast, partition_fetch_bytes
        )
        return KafkaConsumer(config, group_id)

    def admin(self, timeout_s: float = 15.0) -> KafkaAdmin:
        return KafkaAdmin(client_config(self.settings), timeout_s)

    def check_health(self, timeout_s: float = 2.0) -> None:
        """Return when a broker answers a metadata request within ``timeout_s`` (with the
        configured security settings); else :class:`ServiceUnavailable`."""
        if not probe_kafka(self.settings, timeout_s):
            raise ServiceUnavailable(
                f"no Kafka broker at {self.settings.bootstrap} answered within {timeout_s:g} s"
            )

    def close(self) -> None:
        return None
