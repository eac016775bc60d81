"""``model-events``: every alias move announced, and followed by every detector process.

The registry (DB3) stays the truth; an event is the signal to re-read it. So a detector that
misses an event (it started after it, or the announcement failed) still converges: it reads the
registry on start and again every ``SENTINEL_DETECTOR_MODEL_CHECK_S``. The topic is compacted and
keyed by alias. Two racing moves can be announced in the other order, so the record compaction
keeps for an alias is not always its latest move: each carries its move count, and readers take
the alias from the registry, never from the event.

A follower reads the one partition group-less from the end it saw when it started, commits
nothing and dead-letters nothing: any record on the topic, even one it cannot decode, wakes it to
re-read the registry (a bad record is logged, once per follower and offset).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from stream_sentinel.domain import ModelEvent, ModelEventType
from stream_sentinel.errors import SentinelError, ServiceUnavailable
from stream_sentinel.learning.aliases import AliasMove
from stream_sentinel.transport.base import Broker, Consumer, TopicPartition
from stream_sentinel.transport.topics import MODEL_EVENTS, Topics
from stream_sentinel.wire import records
from stream_sentinel.wire.avro import AvroEncoder
from stream_sentinel.wire.serde import Serde

log = logging.getLogger(__name__)

#: How long an announcement may wait for Kafka's acknowledgement.
DELIVERY_TIMEOUT_S = 15.0
#: Records read per follow step (the topic holds one record per alias move).
FOLLOW_BATCH = 100
#: How long starting to follow may wait for the partition's end (it runs between two batches).
WATERMARK_TIMEOUT_S = 3.0


class AnnounceFailed(ServiceUnavailable):
    """An alias moved in the registry, but its event did not reach ``model-events``."""


def registry_uri(version: str) -> str:
    """Where the registry keeps a version's artifact."""
    return f"registry:{version}"


def event_of(move: AliasMove, metrics: dict[str, float] | None = None) -> ModelEvent:
    """The ModelEvent announcing ``move``."""
    kind = ModelEventType.ROLLED_BACK if move.kind == "rollback" else ModelEventType.PROMOTED
    return ModelEvent(
        model_version=move.version,
        event=kind,
        artifact_uri=registry_uri(move.version),
        metrics=dict(metrics or {}),
        time=move.time_ms,
        alias=move.alias,
        previous_version=move.previous,
        move=move.seq,
        reason=move.reason,
        actor=move.actor,
    )


class Announcer:
    """Publishes alias moves to ``model-events`` (what the registry calls after each move)."""

    def __init__(self, broker: Broker, serde: Serde, topics: Topics) -> None:
        self._broker = broker
        self._encode = serde.encoder(MODEL_EVENTS)
        self._topics = topics
        self._topic = topics.model_events
        self._ready = False

    def prepare(self) -> None:
        """Everything that can fail before a move: the topic exists (created on a fresh stack,
        before `topics create`) and the ModelEvent schema is registered. Call it before moving
        an alias, so a stack that cannot take the event refuses the move instead."""
        if self._ready:
            return
        admin = self._broker.admin()
        try:
            if self._topic not in admin.describe_topics([self._topic]):
                spec = next(s for s in self._topics.specs() if s.name == self._topic)
                admin.create_topics([spec])
        finally:
            admin.close()
        if isinstance(self._encode, AvroEncoder):  # (JSON topics have no schema to register)
            _ = self._encode.schema_id  # registered or looked up now, not after the move
        self._ready = True

    def __call__(self, move: AliasMove) -> None:
        try:
            self.prepare()
            self._publish(move)
        except AnnounceFailed:
            raise
        except SentinelError as exc:
            raise self._failed(move, str(exc)) from exc

    def _publish(self, move: AliasMove) -> None:
        value = self._encode(records.to_dict(event_of(move)))
        problems: list[str] = []

        def delivered(error: str | None, where: TopicPartition | None, offset: int | None) -> None:
            if error is not None:
                problems.append(error)

        producer = self._broker.producer()
        try:
            producer.produce(self._topic, value, move.alias.encode(), on_delivery=delivered)
            undelivered = producer.flush(DELIVERY_TIMEOUT_S)
        finally:
            producer.close()
        if undelivered or problems:
            reason = problems[0] if problems else f"not acknowledged in {DELIVERY_TIMEOUT_S:g} s"
            raise self._failed(move, reason)

    def _failed(self, move: AliasMove, reason: str) -> AnnounceFailed:
        return AnnounceFailed(
            f"{move.alias} moved to {move.version} (move #{move.seq}) in the registry, but "
            f"its event did not reach {self._topic}: {reason}. Running detectors still "
            "switch at their next registry check (SENTINEL_DETECTOR_MODEL_CHECK_S); "
            f"`stream-sentinel models announce --alias {move.alias}` publishes it again "
            "once Kafka is back"
        )


@dataclass(frozen=True, slots=True)
class Seen:
    """What one follow step read: the events it decoded and how many records it could not."""

    events: tuple[ModelEvent, ...] = ()
    undecodable: int = 0

    @property
    def woke(self) -> bool:
        """True when anything arrived (a record it cannot decode still means: re-read)."""
        return bool(self.events) or self.undecodable > 0


class EventFollower:
    """Reads ``model-events`` from where it stood at :meth:`start`, never committing."""

    def __init__(self, broker: Broker, serde: Serde, topics: Topics) -> None:
        self._broker = broker
        self._decoder = serde.decoder(MODEL_EVENTS)
        self._partition = TopicPartition(topics.model_events, 0)
        self._consumer: Consumer | None = None

    @property
    def started(self) -> bool:
        return self._consumer is not None

    def start(self) -> None:
        """Assign the partition at its current end: what comes after is what we follow (call it
        before reading the registry, so nothing between the two is missed)."""
        if self._consumer is not None:
            return
        consumer = self._broker.consumer(None, isolation="read_committed")
        try:
            _, end = consumer.watermarks(self._partition, timeout_s=WATERMARK_TIMEOUT_S)
            consumer.assign({self._partition: end})
        except SentinelError:
            consumer.close()
            raise
        self._consumer = consumer

    def poll(self) -> Seen:
        """The events that arrived since the last call (never waits; nothing before start)."""
        if self._consumer is None:
            return Seen()
        try:
            batch = self._consumer.consume(FOLLOW_BATCH, 0.0)
        except SentinelError as exc:
            raise ServiceUnavailable(f"cannot read {self._partition.topic}: {exc}") from exc
        events: list[ModelEvent] = []
        bad = 0
        for record in batch:
            try:
                data = self._decoder.decode(record.value() or b"")
                events.append(records.from_dict(ModelEvent, data))
            except (SentinelError, ValueError, KeyError, TypeError) as exc:
                bad += 1
                log.warning(
                    "%s offset %s is not a ModelEvent (%s): re-reading the registry anyway",
                    self._partition.topic,
                    record.offset(),
                    exc,
                )
        return Seen(tuple(events), bad)

    def close(self) -> None:
        if self._consumer is not None:
            self._consumer.close()
            self._consumer = None
