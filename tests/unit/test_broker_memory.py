"""The embedded broker passes the broker contract."""

from __future__ import annotations

import itertools

import pytest

from stream_sentinel.transport.base import TopicSpec
from stream_sentinel.transport.memory import MemoryBroker
from tests.contract.broker_contract import BrokerContract, NewTopic


class TestMemoryBroker(BrokerContract):
    QUIET_S = 0.2

    @pytest.fixture
    def broker(self) -> MemoryBroker:
        return MemoryBroker()

    @pytest.fixture
    def new_topic(self, broker: MemoryBroker) -> NewTopic:
        names = itertools.count()

        def create(partitions: int) -> str:
            name = f"topic-{next(names)}"
            broker.admin().create_topics([TopicSpec(name, partitions)])
            return name

        return create
