"""Ports of the local stack come from the endpoint settings; remote hosts are refused."""

from __future__ import annotations

import pytest

from stream_sentinel.config import load_settings
from stream_sentinel.errors import ConfigError
from stream_sentinel.infra.endpoints import (
    StackPorts,
    kafka_port,
    redis_port,
    registry_port,
    stack_ports,
)


def test_default_settings_give_the_documented_ports() -> None:
    assert stack_ports(load_settings(environ={})) == StackPorts(
        kafka=9092, controller=9093, redis=6379, registry=8081
    )


def test_ports_follow_the_endpoint_variables_and_the_controller_follows_kafka() -> None:
    env = {
        "SENTINEL_KAFKA_BOOTSTRAP": "localhost:19092",
        "SENTINEL_REDIS_URL": "redis://:secret@127.0.0.1:16379/2",
        "SENTINEL_REGISTRY_URL": "http://127.0.0.1:18081/",
    }
    assert stack_ports(load_settings(environ=env)) == StackPorts(19092, 19093, 16379, 18081)
    env["SENTINEL_INFRA_CONTROLLER_PORT"] = "29999"
    assert stack_ports(load_settings(environ=env)).controller == 29999


@pytest.mark.parametrize(
    ("url", "port"), [("redis://127.0.0.1", 6379), ("redis://localhost:7000/0", 7000)]
)
def test_redis_port_defaults_to_6379(url: str, port: int) -> None:
    assert redis_port(url) == port


def test_registry_port_defaults_to_http() -> None:
    assert registry_port("http://127.0.0.1") == 80


def test_a_remote_kafka_is_refused_with_what_to_do() -> None:
    with pytest.raises(ConfigError) as refused:
        kafka_port("10.0.0.5:9092")
    assert str(refused.value) == (
        "`infra up` runs its services on this machine and binds only 127.0.0.1, but"
        " SENTINEL_KAFKA_BOOTSTRAP='10.0.0.5:9092' points at 10.0.0.5. To use that server, skip"
        " `infra up` and run the other commands against it; to run the local stack, unset"
        " SENTINEL_KAFKA_BOOTSTRAP or point it at 127.0.0.1"
    )


@pytest.mark.parametrize(
    ("function", "value", "variable"),
    [
        (redis_port, "redis://cache.internal:6379", "SENTINEL_REDIS_URL"),
        (registry_port, "http://0.0.0.0:8081", "SENTINEL_REGISTRY_URL"),
        (kafka_port, "[::1]:9092", "SENTINEL_KAFKA_BOOTSTRAP"),
    ],
)
def test_every_endpoint_must_be_loopback(function: object, value: str, variable: str) -> None:
    with pytest.raises(ConfigError, match=f"binds only 127.0.0.1, but {variable}="):
        function(value)  # type: ignore[operator]


def test_schemes_the_launcher_cannot_serve_are_refused() -> None:
    with pytest.raises(ConfigError, match=r"serves redis:// or rediss:// on 127\.0\.0\.1 only"):
        redis_port("unix://127.0.0.1:6380")
    assert redis_port("rediss://detector@127.0.0.1:6380/0?ssl_ca_certs=%2Fca.pem") == 6380
    with pytest.raises(ConfigError, match=r"serves http:// or https:// on 127\.0\.0\.1 only"):
        registry_port("ftp://127.0.0.1:8081")
    assert (registry_port("https://127.0.0.1:8081"), registry_port("https://127.0.0.1")) == (
        8081,
        443,
    )


def test_a_cluster_bootstrap_list_is_not_a_local_stack() -> None:
    with pytest.raises(ConfigError, match="names 2 brokers, but the local stack is one broker"):
        kafka_port("127.0.0.1:9092,127.0.0.1:9094")


@pytest.mark.parametrize("bootstrap", ["127.0.0.1", "127.0.0.1:", "127.0.0.1:99999"])
def test_kafka_needs_a_valid_port(bootstrap: str) -> None:
    with pytest.raises(ConfigError, match="needs a port between 1 and 65535"):
        kafka_port(bootstrap)


def test_two_services_on_one_port_are_refused_naming_the_variable_to_change() -> None:
    settings = load_settings(environ={"SENTINEL_REDIS_URL": "redis://127.0.0.1:9093"})
    with pytest.raises(ConfigError) as clash:
        stack_ports(settings)
    assert str(clash.value) == (
        "the KRaft controller and the Redis would both listen on port 9093: move one, e.g."
        " SENTINEL_REDIS_URL=redis://127.0.0.1:<free port>"
    )


@pytest.mark.parametrize("protocol", ["SSL", "SASL_SSL", "SASL_PLAINTEXT"])
def test_a_plain_stack_serves_plaintext_only(protocol: str) -> None:
    settings = load_settings(environ={"SENTINEL_KAFKA_SECURITY_PROTOCOL": protocol})
    with pytest.raises(ConfigError) as refused:
        stack_ports(settings)
    assert str(refused.value) == (
        "the local stack serves Kafka over PLAINTEXT only, but SENTINEL_KAFKA_SECURITY_PROTOCOL"
        f" is {protocol}: use the development or test profile for `infra up`, and point"
        " secured profiles at a real cluster instead (or create the stack with"
        " `infra up --secure`)"
    )


def test_a_secure_stack_serves_sasl_ssl_and_refuses_other_protocols() -> None:
    settings = load_settings(environ={"SENTINEL_KAFKA_SECURITY_PROTOCOL": "SASL_SSL"})
    assert stack_ports(settings, secure=True).kafka == 9092
    assert stack_ports(load_settings(environ={}), secure=True).kafka == 9092
    settings = load_settings(environ={"SENTINEL_KAFKA_SECURITY_PROTOCOL": "SSL"})
    with pytest.raises(ConfigError, match="secure local stack serves Kafka over SASL_SSL"):
        stack_ports(settings, secure=True)
