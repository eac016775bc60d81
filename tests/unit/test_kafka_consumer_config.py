"""A consumer's librdkafka config as the Kafka broker wrapper builds it (no broker is reached)."""

from __future__ import annotations

from typing import Any

import pytest

from stream_sentinel.config import load_settings
from stream_sentinel.errors import ConfigError
from stream_sentinel.transport import kafka
from stream_sentinel.transport.kafka import KafkaBroker, consumer_config

pytestmark = pytest.mark.unit

KAFKA = load_settings("test", environ={}).kafka


def test_a_bounded_reader_asks_for_its_partition_fetch_bytes() -> None:
    config = consumer_config(KAFKA, None, "read_committed", "earliest", True, 65_536)
    assert config["max.partition.fetch.bytes"] == 65_536
    assert (config["isolation.level"], config["fetch.min.bytes"]) == ("read_committed", 1)


def test_an_unbounded_reader_keeps_librdkafka_s_default() -> None:
    config = consumer_config(KAFKA, "g", "read_committed", "earliest", False)
    assert "max.partition.fetch.bytes" not in config


@pytest.mark.parametrize("size", [0, -1])
def test_a_fetch_bound_that_is_not_positive_is_refused(size: int) -> None:
    with pytest.raises(ConfigError) as refused:
        consumer_config(KAFKA, None, "read_committed", "earliest", True, size)
    assert str(refused.value) == (
        f"partition_fetch_bytes must be a positive number of bytes, not {size}: "
        "leave it out for librdkafka's default"
    )


def test_the_broker_builds_its_consumer_with_the_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[dict[str, Any]] = []
    monkeypatch.setattr(kafka, "KafkaConsumer", lambda config, group_id: built.append(config))
    KafkaBroker(KAFKA).consumer(None, low_latency=True, partition_fetch_bytes=65_536)
    assert built[0]["max.partition.fetch.bytes"] == 65_536
    assert built[0]["group.id"] == f"{KAFKA.client_id}-reader"
