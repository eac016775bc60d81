"""The embedded broker passes the console's reads contract (groups described, offsets by time)."""

from __future__ import annotations

import itertools

import pytest

from stream_sentinel.transport.base import TopicSpec
from stream_sentinel.transport.memory import CLIENT_ID, HOST, MemoryBroker
from tests.contract.broker_contract import NewTopic
from tests.contract.console_reads_contract import ConsoleReadsContract


class TestMemoryConsoleReads(ConsoleReadsContract):
    def host_ok(self, host: str) -> bool:
        return host == HOST

    @pytest.fixture
    def client_id(self) -> str:
        return CLIENT_ID

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
