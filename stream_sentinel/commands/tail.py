"""`stream-sentinel tail TOPIC`: print a topic's records, decoded, as JSON lines (a kcat for us).

Reads with read_committed isolation, outside any consumer group (it commits nothing). Avro values
decode as written, by their schema id; JSON values are printed as they are. A value that cannot be
decoded is reported on stderr with its partition and offset, and tailing goes on.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import click

from stream_sentinel.commands.context import CliContext, pass_cli
from stream_sentinel.errors import UsageError
from stream_sentinel.registry.client import SchemaRegistryClient
from stream_sentinel.transport.base import Broker, Consumer, Record, TopicPartition


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("latin-1")  # Avro's JSON convention for bytes
    return str(value)


class RecordPrinter:
    """Decodes consumed records (Avro by schema id, or JSON) into printable lines."""

    def __init__(self, registry: SchemaRegistryClient, with_meta: bool = False) -> None:
        from stream_sentinel.wire.serde import AvroDecoder

        self._avro = AvroDecoder(registry)
        self._with_meta = with_meta

    def line(self, record: Record) -> tuple[str | None, str | None]:
        """(JSON line, None), or (None, a problem to report)."""
        value = record.value()
        if value and value[0] == 0:  # Confluent's magic byte
            decoded, failures = self._avro.decode_many([value])
            if failures:
                return None, failures[0].reason
            document: Any = decoded[0]
        else:
            try:
                document = json.loads(value or b"null")
            except (UnicodeDecodeError, json.JSONDecodeError):
                return None, "neither Confluent-framed Avro nor JSON"
        if self._with_meta:
            document = self._meta(record, document)
        return json.dumps(document, ensure_ascii=False, default=_json_default), None

    @staticmethod
    def _meta(record: Record, document: Any) -> dict[str, Any]:
        key = record.key()
        return {
            "partition": record.partition(),
            "offset": record.offset(),
            "key": None if key is None else key.decode("utf-8", "replace"),
            "timestamp": record.timestamp()[1],
            "value": document,
        }


def open_reader(broker: Broker, topic: str, from_beginning: bool) -> Consumer:
    """A group-less read_committed consumer on every partition of ``topic``."""
    admin = broker.admin()
    try:
        info = admin.describe_topics([topic]).get(topic)
    finally:
        admin.close()
    if info is None:
        raise UsageError(
            f"topic {topic!r} does not exist, or this Kafka user may not see it (is the topic "
            "prefix right? on a secure stack, has the user in SENTINEL_KAFKA_SASL_USERNAME "
            "an ACL on it?)"
        )
    consumer = broker.consumer(None, isolation="read_committed")
    starts = {}
    for partition in range(info.partitions):
        tp = TopicPartition(topic, partition)
        low, high = consumer.watermarks(tp)
        starts[tp] = low if from_beginning else high
    consumer.assign(starts)
    return consumer


def matching(consumer: Consumer, key: bytes | None, stop: Callable[[], bool]) -> Iterator[Record]:
    """Records of ``consumer`` (with ``key``, when given) until ``stop()`` says so."""
    while not stop():
        for record in consumer.consume(500, 0.5):
            if key is None or record.key() == key:
                yield record


@click.command("tail")
@click.argument("topic")
@click.option("--from-beginning", is_flag=True, help="Start at the oldest record (default: new).")
@click.option("--key", default=None, help="Only records with this key (a user_id).")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Stop after N records.")
@click.option("--meta", is_flag=True, help="Wrap each record with partition, offset, key, time.")
@pass_cli
def tail(
    cli: CliContext,
    topic: str,
    from_beginning: bool,
    key: str | None,
    limit: int | None,
    meta: bool,
) -> None:
    """Print TOPIC's records as JSON lines. TOPIC is the logical name (prefix applied)."""
    from stream_sentinel.clients.backends import RealClients
    from stream_sentinel.transport.topics import Topics

    settings = cli.require(kafka=True, registry=True)
    clients = RealClients(settings)
    registry = clients.registry()
    consumer = open_reader(
        clients.broker(), Topics.from_settings(settings).name(topic), from_beginning
    )
    printer = RecordPrinter(registry, with_meta=meta)
    printed = 0
    try:
        wanted = None if key is None else key.encode()
        for record in matching(consumer, wanted, stop=lambda: False):
            line, problem = printer.line(record)
            if line is None:
                click.echo(
                    f"# partition {record.partition()} offset {record.offset()}: {problem}",
                    err=True,
                )
                continue
            click.echo(line)
            printed += 1
            if limit is not None and printed >= limit:
                break
    except KeyboardInterrupt:
        pass
    finally:
        consumer.close()
        registry.close()


COMMANDS = [tail]
