"""The codecs of one deployment: :class:`Serde` picks Avro or JSON per topic.

Avro topics use :class:`~stream_sentinel.wire.avro.AvroEncoder` and
:class:`~stream_sentinel.wire.avro.AvroDecoder` on Confluent's wire format
(:mod:`stream_sentinel.wire.framing`); topics listed in ``json_topics`` use the JSON codec. The
Avro and framing names are re-exported here, where callers have always found them.

>>> from stream_sentinel.registry_server.local_client import LocalRegistryClient
>>> serde = Serde(LocalRegistryClient.in_memory())
>>> payload = serde.encoder("model-events")({"model_version": "m1", "event": "PROMOTED",
...     "artifact_uri": "models/m1.txt", "metrics": {"auc": 0.91}, "time": 1700000000000})
>>> payload[:5]
b'\\x00\\x00\\x00\\x00\\x01'
>>> serde.decoder("model-events").decode(payload)["event"]
'PROMOTED'
"""

from __future__ import annotations

from collections.abc import Iterable

from stream_sentinel.config import Settings
from stream_sentinel.registry.client import SchemaRegistryClient
from stream_sentinel.transport.topics import Topics
from stream_sentinel.wire.avro import (
    MAX_CACHED_IDS,
    UNKNOWN_ID_TTL_S,
    AvroDecoder,
    AvroEncoder,
    ForeignSchema,
    decoding_schema,
    record_names,
)
from stream_sentinel.wire.failures import RecordDecoder, RecordEncoder
from stream_sentinel.wire.framing import HEADER_SIZE, MAGIC_BYTE, frame, schema_id_of
from stream_sentinel.wire.json_codec import JsonDecoder, JsonEncoder
from stream_sentinel.wire.schemas import BundledSchema, latest_for_topic
from stream_sentinel.wire.schemas.bounds import DecodeLimits

__all__ = [
    "HEADER_SIZE",
    "MAGIC_BYTE",
    "MAX_CACHED_IDS",
    "UNKNOWN_ID_TTL_S",
    "AvroDecoder",
    "AvroEncoder",
    "ForeignSchema",
    "Serde",
    "decoding_schema",
    "frame",
    "record_names",
    "schema_id_of",
]


class Serde:
    """Encoders and decoders of one deployment: topic prefix, registry, JSON topics.

    Topics are logical names (``"transactions"``); subjects follow TopicNameStrategy on the
    prefixed name. Topics listed in ``json_topics`` carry plain JSON instead of Avro.
    """

    def __init__(
        self,
        registry: SchemaRegistryClient,
        topics: Topics | None = None,
        json_topics: Iterable[str] = (),
        *,
        auto_register: bool = True,
        limits: DecodeLimits | None = None,
    ) -> None:
        self.registry = registry
        self.topics = topics or Topics()
        self.json_topics = frozenset(json_topics)
        self.limits = limits or DecodeLimits()
        self._auto_register = auto_register
        self._encoders: dict[str, RecordEncoder] = {}
        self._decoders: dict[str, RecordDecoder] = {}

    @classmethod
    def from_settings(
        cls, settings: Settings, registry: SchemaRegistryClient, *, auto_register: bool = True
    ) -> Serde:
        """``auto_register=False``: encoders only look their schema up (a registry reader)."""
        detector = settings.detector
        return cls(
            registry,
            Topics.from_settings(settings),
            settings.registry.json_topics,
            auto_register=auto_register,
            limits=DecodeLimits(detector.max_decode_depth, detector.max_decode_items),
        )

    def schema(self, logical_topic: str) -> BundledSchema:
        return latest_for_topic(logical_topic)

    def encoder(self, logical_topic: str) -> RecordEncoder:
        """The encoder producers of ``logical_topic`` use (the newest bundled schema)."""
        if logical_topic not in self._encoders:
            schema = self.schema(logical_topic)
            if logical_topic in self.json_topics:
                self._encoders[logical_topic] = JsonEncoder(schema.text)
            else:
                subject = schema.subject(self.topics)
                self._encoders[logical_topic] = AvroEncoder(
                    self.registry, subject, schema.text, auto_register=self._auto_register
                )
        return self._encoders[logical_topic]

    def decoder(self, logical_topic: str) -> RecordDecoder:
        """The decoder consumers of ``logical_topic`` use (reads into the newest schema)."""
        if logical_topic not in self._decoders:
            schema = self.schema(logical_topic)
            if logical_topic in self.json_topics:
                self._decoders[logical_topic] = JsonDecoder(schema.text)
            else:
                self._decoders[logical_topic] = AvroDecoder(self.registry, schema.text, self.limits)
        return self._decoders[logical_topic]
