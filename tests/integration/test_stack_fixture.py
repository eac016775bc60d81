"""The session stack every integration test shares, and the per-test isolation on top of it."""

from __future__ import annotations

import hashlib

import httpx
import pytest

from stream_sentinel.config import Settings
from stream_sentinel.infra.endpoints import stack_ports
from stream_sentinel.state.redis import probe_redis
from stream_sentinel.transport.kafka import probe_kafka

DEVELOPER_PORTS = {9092, 9093, 6379, 8081}


def test_session_stack_answers_on_ports_that_leave_a_developer_stack_alone(
    stack_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> None:
    ports = stack_ports(stack_settings)
    used = {ports.kafka, ports.controller, ports.redis, ports.registry}
    assert used & DEVELOPER_PORTS == set()
    assert stack_settings.env == "test"
    assert stack_settings.infra.state_dir.is_relative_to(tmp_path_factory.getbasetemp())
    assert probe_kafka(stack_settings.kafka, 10.0) is True
    assert probe_redis(stack_settings.redis.url, None, 10.0) is True
    assert httpx.get(stack_settings.registry.url + "/", timeout=10.0).status_code == 200


def test_each_test_gets_a_topic_prefix_and_key_namespace_of_its_own(
    settings: Settings, stack_settings: Settings, request: pytest.FixtureRequest
) -> None:
    tag = "t" + hashlib.sha1(request.node.nodeid.encode()).hexdigest()[:8]
    assert (settings.kafka.topic_prefix, settings.redis.key_namespace) == (f"{tag}-", tag)
    assert (stack_settings.kafka.topic_prefix, stack_settings.redis.key_namespace) == ("", "")
    assert settings.kafka.bootstrap == stack_settings.kafka.bootstrap
    assert settings.redis.url == stack_settings.redis.url
