"""What the console reads from a broker beyond the pipeline's needs: group members and their
assignment, and offsets by time. One suite, run over every Broker implementation.

Subclass :class:`ConsoleReadsContract` and provide the fixtures ``broker`` and ``new_topic`` as
for :class:`~tests.contract.broker_contract.BrokerContract`, a ``client_id`` fixture (what the
backend's group members report as their client id) and ``host_ok`` (whether a member's host
has the backend's form).
"""

from __future__ import annotations

import uuid

import pytest

from stream_sentinel.transport.base import Broker, GroupDescription, TopicPartition
from tests.contract.broker_contract import NewTopic, wait_assigned

T0 = 1_700_000_000_000


@pytest.mark.contract
class ConsoleReadsContract:
    def host_ok(self, host: str) -> bool:
        raise NotImplementedError

    def test_a_group_is_described_with_each_members_assignment(
        self, broker: Broker, new_topic: NewTopic, client_id: str
    ) -> None:
        topic = new_topic(3)
        group = f"g-{uuid.uuid4().hex[:8]}"
        first, second = broker.consumer(group), broker.consumer(group)
        first.subscribe([topic])
        second.subscribe([topic])
        wait_assigned([first, second], 3)
        [described] = broker.admin().describe_groups([group]).values()
        assert (described.group_id, described.state) == (group, "stable")
        held = {m.member_id: m.assignment for m in described.members}
        mine = {
            first.group_metadata().member_id: tuple(sorted(first.assignment())),
            second.group_metadata().member_id: tuple(sorted(second.assignment())),
        }
        assert held == mine
        assert sorted(tp for parts in held.values() for tp in parts) == [
            TopicPartition(topic, p) for p in range(3)
        ]
        assert [m.client_id for m in described.members] == [client_id] * 2
        assert all(self.host_ok(m.host) for m in described.members)
        assert [m.member_id for m in described.members] == sorted(held)
        first.close()
        second.close()

    def test_every_broker_reports_the_configs_asked_for_and_no_others(self, broker: Broker) -> None:
        admin = broker.admin()
        asked = ["auto.create.topics.enable", "offsets.topic.replication.factor", "no.such"]
        found = admin.describe_brokers(asked)
        assert len(found) == admin.describe_cluster().brokers
        assert [b.broker_id for b in found] == sorted({b.broker_id for b in found})
        for info in found:
            assert sorted(info.config) == asked[:2]
            assert info.config["auto.create.topics.enable"] == "false"
            assert info.config["offsets.topic.replication.factor"].isdigit()

    def test_a_group_nobody_joined_is_dead_and_has_no_members(self, broker: Broker) -> None:
        group = f"never-{uuid.uuid4().hex[:8]}"
        assert broker.admin().describe_groups([group]) == {
            group: GroupDescription(group, "dead", ())
        }

    def test_offsets_for_times_find_the_first_record_at_or_after_the_time(
        self, broker: Broker, new_topic: NewTopic
    ) -> None:
        topic = new_topic(2)
        producer = broker.producer()
        for n in range(4):
            producer.produce(topic, b"x", partition=0, timestamp_ms=T0 + n * 1000)
        producer.produce(topic, b"x", partition=1, timestamp_ms=T0)
        producer.flush(30)
        p0, p1 = TopicPartition(topic, 0), TopicPartition(topic, 1)
        admin = broker.admin()
        assert admin.offsets_for_times({p0: T0 + 1500, p1: T0}) == {p0: 2, p1: 0}
        assert admin.offsets_for_times({p0: T0 - 1, p1: T0 + 1}) == {p0: 0, p1: 1}
        assert admin.offsets_for_times({p0: T0 + 10_000}) == {p0: 4}
