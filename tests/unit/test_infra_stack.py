"""The stack and `infra` commands where no service runs: nothing is started in this tier."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from stream_sentinel.cli import cli
from stream_sentinel.config import Settings, load_settings
from stream_sentinel.errors import InfraError
from stream_sentinel.infra.maven import manifest_digest
from stream_sentinel.infra.process import free_ports
from stream_sentinel.infra.stack import Stack


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    kafka, controller, redis, registry = free_ports(4)
    return {
        "SENTINEL_KAFKA_BOOTSTRAP": f"127.0.0.1:{kafka}",
        "SENTINEL_INFRA_CONTROLLER_PORT": str(controller),
        "SENTINEL_REDIS_URL": f"redis://127.0.0.1:{redis}",
        "SENTINEL_REGISTRY_URL": f"http://127.0.0.1:{registry}",
        "SENTINEL_INFRA_STATE_DIR": str(tmp_path / "state"),
        "SENTINEL_INFRA_CACHE_DIR": str(tmp_path / "cache"),
    }


@pytest.fixture
def settings(env: dict[str, str]) -> Settings:
    return load_settings(environ=env)


@pytest.fixture
def runner(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    yield CliRunner()


def test_status_of_a_stack_that_never_ran_is_all_stopped(settings: Settings) -> None:
    reports = Stack(settings).status()
    assert [(r.service, r.state, r.pid, r.healthy) for r in reports] == [
        ("kafka", "stopped", None, False),
        ("redis", "stopped", None, False),
        ("registry", "stopped", None, False),
    ]


def test_down_with_nothing_running_says_so_and_purge_deletes_only_service_dirs(
    settings: Settings,
) -> None:
    stack = Stack(settings)
    for service in stack.services:
        (service.home / "data").mkdir(parents=True)
    (stack.state_dir / "models").mkdir()
    result = stack.down(purge=True)
    assert [(r.title, r.state) for r in result.services] == [
        ("Kafka", "not running"),
        ("Redis", "not running"),
        ("Schema registry", "not running"),
    ]
    assert result.purged == [stack.kafka.home, stack.redis.home, stack.registry.home]
    assert [p.name for p in stack.state_dir.iterdir()] == ["models"]


def test_missing_jars_name_the_install_command(settings: Settings) -> None:
    with pytest.raises(InfraError) as missing:
        Stack(settings).kafka.jars.require_installed()
    assert str(missing.value) == (
        f"the Kafka 4.1.1 jars are not installed in {settings.infra.cache_dir}/kafka-4.1.1/libs:"
        " run `stream-sentinel infra install` (or `make setup-kafka`); it needs Maven and network"
        " access to Maven Central"
    )


def test_missing_java_and_redis_server_name_the_apt_package(settings: Settings) -> None:
    no_java = settings.with_overrides(infra={"java": "no-such-java-17"})
    with pytest.raises(InfraError, match=r"`no-such-java-17` was not found on PATH: Kafka needs"):
        Stack(no_java).require_installed()
    no_redis = settings.with_overrides(infra={"redis_server": "no-such-redis-server"})
    with pytest.raises(InfraError, match=r"apt-get install -y redis-server"):
        Stack(no_redis).redis.require_installed()


def test_a_port_taken_before_up_fails_before_starting_anything(settings: Settings) -> None:
    stack = Stack(settings.with_overrides(infra={"java": "true", "redis_server": "true"}))
    stack.kafka.jars.libs.mkdir(parents=True)
    stack.kafka.jars.complete_marker.write_text(f"manifest {manifest_digest()}\n")
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", stack.ports.kafka))
        squatter.listen()
        with pytest.raises(InfraError) as taken:
            stack.up()
    assert str(taken.value).startswith(
        f"port {stack.ports.kafka} (Kafka client) on 127.0.0.1 is already in use"
    )
    assert str(taken.value).endswith(
        "or move this port with SENTINEL_KAFKA_BOOTSTRAP=127.0.0.1:<free port>"
    )
    assert not stack.kafka.home.exists()


def test_every_infra_command_has_a_one_sentence_help(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["infra", "--help"])
    assert result.exit_code == 0
    listed = [line.split()[0] for line in result.output.split("Commands:")[1].splitlines() if line]
    assert listed == ["down", "install", "status", "up"]
    for command in listed:
        help_text = runner.invoke(cli, ["infra", command, "--help"]).output
        summary = help_text.split("\n\n")[1].strip()
        assert summary.endswith(".") and summary.count(". ") == 0, summary


def test_status_json_of_a_stopped_stack(runner: CliRunner, settings: Settings) -> None:
    result = runner.invoke(cli, ["infra", "status", "--json"])
    assert result.exit_code == 0, result.output
    status = json.loads(result.output)
    ports = Stack(settings).ports
    assert [
        (s["service"], s["state"], s["pid"], s["port"], s["healthy"]) for s in status["services"]
    ] == [
        ("kafka", "stopped", None, ports.kafka, False),
        ("redis", "stopped", None, ports.redis, False),
        ("registry", "stopped", None, ports.registry, False),
    ]


def test_a_remote_endpoint_is_refused_by_the_cli_without_a_traceback(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["infra", "up"], env={"SENTINEL_REDIS_URL": "redis://10.1.1.1"})
    assert result.exit_code == 2
    assert "binds only 127.0.0.1, but SENTINEL_REDIS_URL='redis://10.1.1.1'" in result.output
