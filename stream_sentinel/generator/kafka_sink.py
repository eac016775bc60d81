"""Streaming to a broker: ``transactions`` keyed by user_id, labels to ``fraud-feedback``.

Works with any :class:`~stream_sentinel.transport.base.Broker` (Kafka, or the embedded one).
Values are Avro in Confluent's wire format under the schemas the serde registers; the columns
are encoded in bulk by :class:`~stream_sentinel.wire.columnar.AvroColumnCodec`, and the first
record of the run is checked against the serde's own encoder, byte for byte, before anything is
sent. Topics the
settings mark as JSON go through the serde record by record. Every delivery report is counted;
records still undelivered when the sink closes count as errors.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from stream_sentinel.errors import SerializationError
from stream_sentinel.generator import domain_objects as records
from stream_sentinel.generator.avrolayout import feedback_columns, transaction_columns
from stream_sentinel.generator.batch import FeedbackBatch, TransactionBatch
from stream_sentinel.generator.population import ID_FORMATS, Population
from stream_sentinel.generator.sinks import DeliveryStats
from stream_sentinel.transport import topics as layout
from stream_sentinel.transport.base import Broker, TopicPartition
from stream_sentinel.transport.topics import Topics
from stream_sentinel.wire import records as avro_records
from stream_sentinel.wire.columnar import AvroColumnCodec, BatchT, Column
from stream_sentinel.wire.failures import RecordEncoder
from stream_sentinel.wire.schemas import compile_plan
from stream_sentinel.wire.serde import AvroEncoder, Serde
from stream_sentinel.wire.textcodec import digits

FLUSH_TIMEOUT_S = 30.0


def user_keys(users: np.ndarray) -> list[bytes]:
    """Kafka keys: each user id's bytes (``u0000042``)."""
    prefix, width = ID_FORMATS["user"]
    keyed = np.empty((len(users), len(prefix) + width), dtype=np.uint8)
    keyed[:, : len(prefix)] = np.frombuffer(prefix.encode(), dtype=np.uint8)
    keyed[:, len(prefix) :] = digits(users, width)
    keys: list[bytes] = keyed.view(f"S{keyed.shape[1]}").ravel().tolist()
    return keys


def _column_codec(
    serde: Serde, topic: str, encoder: RecordEncoder, columns: Mapping[str, Column[BatchT]]
) -> AvroColumnCodec[BatchT] | None:
    """The bulk codec for an Avro topic (None for a JSON topic)."""
    if not isinstance(encoder, AvroEncoder):
        return None
    return AvroColumnCodec(compile_plan(serde.schema(topic).text), columns, encoder.schema_id)


class BrokerSink:
    writes_labels = True

    def __init__(
        self, broker: Broker, serde: Serde, population: Population, id_prefix: str
    ) -> None:
        topics: Topics = serde.topics
        self.destination = f"{broker.name}:{topics.transactions}"
        self.stats = DeliveryStats()
        self._population, self._prefix = population, id_prefix
        self._transactions_topic = topics.transactions
        self._feedback_topic = topics.fraud_feedback
        broker.admin().create_topics(
            [
                spec
                for spec in topics.specs()
                if spec.name in (topics.transactions, topics.fraud_feedback)
            ]
        )
        self._tx_encoder = serde.encoder(layout.TRANSACTIONS)
        self._fb_encoder = serde.encoder(layout.FRAUD_FEEDBACK)
        self._tx_codec = _column_codec(
            serde, layout.TRANSACTIONS, self._tx_encoder, transaction_columns(id_prefix)
        )
        self._fb_codec = _column_codec(
            serde, layout.FRAUD_FEEDBACK, self._fb_encoder, feedback_columns(id_prefix)
        )
        self._producer = broker.producer()
        self._checked = False

    # -- encoding --------------------------------------------------------------------------------
    def _transaction_values(self, batch: TransactionBatch) -> list[bytes]:
        if self._tx_codec is None:  # a JSON topic: the serde, record by record
            return [
                self._tx_encoder(avro_records.to_dict(tx))
                for tx in records.transactions(batch, self._population, self._prefix)
            ]
        values = self._tx_codec.records(batch, len(batch))
        if not self._checked:
            self._check_first(batch, values[0])
        return values

    def _feedback_values(self, labels: FeedbackBatch) -> list[bytes]:
        if self._fb_codec is None:
            return [
                self._fb_encoder(avro_records.to_dict(f))
                for f in records.feedback(labels, self._population, self._prefix)
            ]
        return self._fb_codec.records(labels, len(labels))

    def _check_first(self, batch: TransactionBatch, value: bytes) -> None:
        """The bulk codec must agree with the validating serde, or nothing is sent."""
        [first] = records.transactions(batch.take(slice(0, 1)), self._population, self._prefix)
        if self._tx_encoder(avro_records.to_dict(first)) != value:
            raise SerializationError(
                "the generator's Avro encoding differs from the serde's for "
                f"{first.transaction_id}; nothing was sent (schema changed?)"
            )
        self._checked = True

    # -- the sink --------------------------------------------------------------------------------
    def write(self, batch: TransactionBatch) -> None:
        if not len(batch):
            return
        self._send(self._transactions_topic, self._transaction_values(batch), batch.user, True)

    def write_labels(self, labels: FeedbackBatch) -> None:
        if not len(labels):
            return
        self._send(self._feedback_topic, self._feedback_values(labels), labels.user, False)

    def _send(self, topic: str, values: list[bytes], users: np.ndarray, is_tx: bool) -> None:
        produce = self._producer.produce
        report = self._on_transaction if is_tx else self._on_label
        for value, key in zip(values, user_keys(users), strict=True):
            produce(topic, value, key, on_delivery=report)
        self._producer.poll(0.0)

    def _on_transaction(
        self, error: str | None, where: TopicPartition | None, offset: int | None
    ) -> None:
        if error is None:
            self.stats.transactions += 1
        else:
            self._failed(error)

    def _on_label(
        self, error: str | None, where: TopicPartition | None, offset: int | None
    ) -> None:
        if error is None:
            self.stats.labels += 1
        else:
            self._failed(error)

    def _failed(self, error: str) -> None:
        self.stats.errors += 1
        self.stats.last_error = error

    def poll(self) -> None:
        self._producer.poll(0.0)

    def close(self) -> None:
        undelivered = self._producer.flush(FLUSH_TIMEOUT_S)
        if undelivered:
            self._failed(f"{undelivered} records still undelivered after {FLUSH_TIMEOUT_S:.0f}s")
            self.stats.errors += undelivered - 1
        self._producer.close()

    def abort(self) -> None:
        self.close()
