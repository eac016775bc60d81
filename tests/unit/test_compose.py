"""docker-compose.yml agrees with the settings' defaults and with what `infra up` configures."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from stream_sentinel.config import Settings, load_settings
from stream_sentinel.infra.endpoints import kafka_port, redis_port, registry_port
from stream_sentinel.infra.kafka import SINGLE_NODE_PROPERTIES
from stream_sentinel.infra.redis import redis_config

COMPOSE = Path(__file__).resolve().parents[2] / "docker-compose.yml"


@pytest.fixture(scope="module")
def services() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())["services"]


@pytest.fixture(scope="module")
def defaults() -> Settings:
    return load_settings(environ={})


def with_defaults(value: str) -> str:
    """Resolve compose's ``${VAR:-default}`` the way compose does when VAR is unset."""
    return re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", value)


def broker_properties(kafka: dict[str, Any]) -> dict[str, str]:
    """The apache/kafka image's mapping: KAFKA_FOO_BAR=x becomes foo.bar=x."""
    return {
        name.removeprefix("KAFKA_").lower().replace("_", "."): str(value)
        for name, value in kafka["environment"].items()
        if name.startswith("KAFKA_") and name != "KAFKA_HEAP_OPTS"
    }


def redis_options(redis: dict[str, Any]) -> dict[str, str]:
    """``redis-server --key value ...`` as a dict."""
    args = [with_defaults(str(arg)) for arg in redis["command"]]
    assert args[0] == "redis-server"
    return {
        key.removeprefix("--"): value for key, value in zip(args[1::2], args[2::2], strict=True)
    }


def test_every_published_port_is_a_settings_default_on_loopback(
    services: dict[str, Any], defaults: Settings
) -> None:
    published = {name: service["ports"] for name, service in services.items()}
    assert published == {
        "kafka": [f"127.0.0.1:{kafka_port(defaults.kafka.bootstrap)}:9092"],
        "redis": [f"127.0.0.1:{redis_port(defaults.redis.url)}:6379"],
        "schema-registry": [f"127.0.0.1:{registry_port(defaults.registry.url)}:8081"],
    }
    assert published["kafka"] == ["127.0.0.1:9092:9092"]


def test_kafka_is_the_pinned_version_in_kraft_mode_with_the_launchers_single_node_settings(
    services: dict[str, Any], defaults: Settings
) -> None:
    kafka = services["kafka"]
    assert kafka["image"] == f"apache/kafka:{defaults.infra.kafka_version}"
    properties = broker_properties(kafka)
    assert properties["process.roles"] == "broker,controller"
    assert {key: properties[key] for key in SINGLE_NODE_PROPERTIES} == SINGLE_NODE_PROPERTIES
    heap = defaults.infra.kafka_heap
    assert kafka["environment"]["KAFKA_HEAP_OPTS"] == f"-Xms{heap} -Xmx{heap}"


def test_kafka_advertises_the_default_bootstrap_to_the_host_and_its_name_to_containers(
    services: dict[str, Any], defaults: Settings
) -> None:
    properties = broker_properties(services["kafka"])
    advertised = properties["advertised.listeners"].split(",")
    assert advertised == [f"HOST://{defaults.kafka.bootstrap}", "DOCKER://kafka:29092"]
    registry_env = services["schema-registry"]["environment"]
    assert registry_env["SENTINEL_KAFKA_BOOTSTRAP"] == "kafka:29092"


def test_redis_has_the_launchers_configuration(
    services: dict[str, Any], defaults: Settings, tmp_path: Path
) -> None:
    options = redis_options(services["redis"])
    port = redis_port(defaults.redis.url)
    launcher = dict(
        line.split(" ", 1) for line in redis_config(defaults.redis, port, tmp_path, tmp_path)
    )
    keys = ["port", "appendonly", "appendfsync", "maxmemory", "maxmemory-policy"]
    assert {key: options[key] for key in keys} == {key: launcher[key] for key in keys}
    assert (options["maxmemory"], options["maxmemory-policy"]) == ("512mb", "volatile-lru")
    assert (options["appendonly"], options["appendfsync"]) == ("yes", "everysec")


def test_the_registry_listens_on_the_default_port_once_kafka_is_healthy(
    services: dict[str, Any], defaults: Settings
) -> None:
    registry = services["schema-registry"]
    port = str(registry_port(defaults.registry.url))
    assert registry["command"] == [
        "schema-registry", "--host", "0.0.0.0", "--port", port,
        # Other instances forward writes to the name the compose network knows it by.
        "--advertised-url", f"http://schema-registry:{port}",
    ]  # fmt: skip
    assert registry["depends_on"] == {"kafka": {"condition": "service_healthy"}}
