"""The broker and state contracts on the real backends (Kafka and Redis of the test stack)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from stream_sentinel.config import Settings
from stream_sentinel.state.redis import RedisStateStore
from stream_sentinel.transport.base import TopicSpec
from stream_sentinel.transport.kafka import KafkaBroker
from tests.contract.broker_contract import BrokerContract, NewTopic
from tests.contract.state_contract import StateStoreContract


class TestKafkaBroker(BrokerContract):
    @pytest.fixture
    def broker(self, settings: Settings) -> KafkaBroker:
        return KafkaBroker(settings.kafka)

    @pytest.fixture
    def new_topic(self, broker: KafkaBroker, settings: Settings) -> NewTopic:
        names = itertools.count()

        def create(partitions: int) -> str:
            name = f"{settings.kafka.topic_prefix}contract-{next(names)}"
            broker.admin().create_topics([TopicSpec(name, partitions)])
            return name

        return create


class TestRedisStateStore(StateStoreContract):
    @pytest.fixture
    def store(self, settings: Settings) -> Iterator[RedisStateStore]:
        store = RedisStateStore(settings.redis)
        yield store
        store.clear()
        store.close()
