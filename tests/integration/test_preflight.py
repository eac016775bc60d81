"""Long-running commands check their services first and say which one is missing, where, and
how to start it, instead of sitting in client retries."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from stream_sentinel.cli import cli
from stream_sentinel.config import Settings
from stream_sentinel.infra.process import free_ports
from stream_sentinel.ops.preflight import kafka_answers, redis_problem, registry_answers

from .stacks import cli_env

HOW = "start the local stack with `stream-sentinel infra up`, or set"


def test_the_running_stack_passes_every_check(stack_settings: Settings) -> None:
    assert kafka_answers(stack_settings) is True
    assert redis_problem(stack_settings) is None
    assert registry_answers(stack_settings) is True


@pytest.mark.parametrize(
    "command",
    [
        ["detect", "--until-idle", "1"],
        ["alerts", "run", "--until-idle", "1"],
        ["alerts", "resolve", "a-1", "--label", "fraud"],
        ["status"],
        ["topics", "list"],
        ["dlq", "show"],
        ["tail", "fraud-scores", "--limit", "1"],
    ],
)
def test_a_dead_kafka_is_named_with_its_address(
    stack_settings: Settings, command: list[str]
) -> None:
    [port] = free_ports(1)
    env = cli_env(stack_settings) | {"SENTINEL_KAFKA_BOOTSTRAP": f"127.0.0.1:{port}"}
    result = CliRunner().invoke(cli, command, env=env)
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        f"error: cannot reach Kafka at 127.0.0.1:{port}: {HOW} SENTINEL_KAFKA_BOOTSTRAP to a "
        "running one"
    )


REDIS = (
    "SENTINEL_REDIS_URL",
    "redis://127.0.0.1:{port}",
    "Redis at {url} (nothing listens there)",
)
REGISTRY = (
    "SENTINEL_REGISTRY_URL",
    "http://127.0.0.1:{port}",
    "the schema registry at {url}",
)


@pytest.mark.parametrize(
    ("service", "command"),
    [
        (REDIS, ["alerts", "run", "--until-idle", "1"]),
        (REDIS, ["alerts", "stats"]),
        (REDIS, ["alerts", "queue"]),
        (REGISTRY, ["alerts", "run", "--until-idle", "1"]),
    ],
)
def test_a_dead_redis_or_registry_is_named_with_its_address(
    stack_settings: Settings, service: tuple[str, str, str], command: list[str]
) -> None:
    variable, url, named = service
    [port] = free_ports(1)
    dead = url.format(port=port)
    env = cli_env(stack_settings) | {variable: dead}
    result = CliRunner().invoke(cli, command, env=env)
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        f"error: cannot reach {named.format(url=dead)}: {HOW} {variable} to a running one"
    )
