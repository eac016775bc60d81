"""Several registry instances on one log (issue 15, item 7), on the embedded broker: one leads,
the others follow and forward; when the leader goes, another takes over and ids never repeat."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest

from stream_sentinel.config import load_settings
from stream_sentinel.errors import RegistryError
from stream_sentinel.registry_server.forwarding import is_write
from stream_sentinel.registry_server.service import RegistryInstance, open_replicated, writer_id
from stream_sentinel.registry_server.store import TopicLog
from stream_sentinel.transport.memory import MemoryBroker
from stream_sentinel.transport.topics import Topics

V1 = '{"type":"record","name":"Payment","fields":[{"name":"id","type":"string"}]}'


def eventually(condition: Callable[[], bool], within_s: float = 10.0) -> None:
    deadline = time.monotonic() + within_s
    while not condition():
        assert time.monotonic() < deadline, "the condition did not hold in time"
        time.sleep(0.02)


@pytest.fixture
def pair() -> Iterator[tuple[RegistryInstance, RegistryInstance]]:
    settings = load_settings("test", environ={})
    broker = MemoryBroker()
    first = open_replicated(settings, broker, broker, "http://first", grace_s=0.1)
    eventually(first.core.leadership.is_writable)
    second = open_replicated(settings, broker, broker, "http://second", grace_s=0.1)
    try:
        yield first, second
    finally:
        second.close()
        first.close()


def test_one_instance_leads_and_the_other_knows_where(
    pair: tuple[RegistryInstance, RegistryInstance],
) -> None:
    first, second = pair
    eventually(lambda: second.core.leader() is not None)
    leader, follower = (first, second) if first.core.leadership.is_leader() else (second, first)
    eventually(leader.core.leadership.is_writable)
    assert not follower.core.leadership.is_leader()
    assert follower.core.leadership.leader_url() == leader.core.leadership.leader_url()
    with pytest.raises(RegistryError) as refused:
        follower.core.register("pay-value", V1)
    assert refused.value.error_code == 50004


def test_a_write_through_the_leader_is_read_through_the_follower_at_once(
    pair: tuple[RegistryInstance, RegistryInstance],
) -> None:
    first, second = pair
    eventually(lambda: first.core.leadership.is_writable() or second.core.leadership.is_writable())
    leader, follower = (first, second) if first.core.leadership.is_writable() else (second, first)
    schema_id = leader.core.register("pay-value", V1).schema_id
    assert follower.core.get_version("pay-value", "latest").schema_id == schema_id


def test_when_the_leader_leaves_the_other_takes_over_and_ids_keep_counting(
    pair: tuple[RegistryInstance, RegistryInstance],
) -> None:
    first, second = pair
    eventually(lambda: first.core.leadership.is_writable() or second.core.leadership.is_writable())
    leader, follower = (first, second) if first.core.leadership.is_writable() else (second, first)
    assert leader.core.register("a-value", V1).schema_id == 1
    leader.close()
    eventually(follower.core.leadership.is_writable)
    assert follower.core.register("b-value", '"string"').schema_id == 2
    assert follower.core.versions("a-value") == [1]


@pytest.mark.parametrize(
    ("method", "path", "write"),
    [
        ("POST", "/subjects/a%2Fb/versions", True),
        ("POST", "/subjects/a%2Fb/versions/", True),
        ("POST", "/subjects/a", False),
        ("POST", "/compatibility/subjects/a/versions/latest", False),
        ("PUT", "/config/a", True),
        ("DELETE", "/subjects/a/versions/1", True),
        ("PUT", "/mode", True),
        ("GET", "/subjects/a/versions", False),
    ],
)
def test_which_requests_go_to_the_leader(method: str, path: str, write: bool) -> None:
    assert is_write(method, path) is write


def test_a_leader_fenced_by_a_newer_writer_stops_writing_and_changes_nothing() -> None:
    settings = load_settings("test", environ={})
    broker = MemoryBroker()
    leader = open_replicated(settings, broker, broker, "http://old", grace_s=0.1)
    try:
        eventually(leader.core.leadership.is_writable)
        schemas = Topics.from_settings(settings).schemas
        usurper = TopicLog(broker, schemas, transactional_id=writer_id(schemas))
        usurper.fence()  # what a newly elected leader does first
        with pytest.raises(RegistryError) as fenced:
            leader.core.register("pay-value", V1)
        assert fenced.value.error_code == 50001
        assert not leader.core.leadership.is_leader()
        assert leader.core.subjects(deleted=True) == []
        usurper.close()
    finally:
        leader.close()
