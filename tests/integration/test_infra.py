"""The launcher behind `stream-sentinel infra`: up, idempotence, status, down, purge, errors.

These tests stop and purge services, so they run their own stack (one per module, to pay the
start-up once) on ports of their own, and never touch the session stack other tests share.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
import redis
from confluent_kafka.admin import AdminClient, NewTopic

from stream_sentinel.config import Settings
from stream_sentinel.errors import InfraError
from stream_sentinel.infra.process import PidRecord, write_pid_file
from stream_sentinel.infra.stack import Stack
from tests.integration.stacks import cli_env, isolated_settings, require_installed, running_stack

CLI = str(Path(sys.executable).with_name("stream-sentinel"))
TITLES = ["Kafka", "Redis", "Schema registry"]


@pytest.fixture(scope="module")
def own_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A stack private to this module, started with the Python API."""
    settings = isolated_settings(tmp_path_factory.mktemp("infra-stack"))
    with running_stack(settings) as stack:
        yield stack


def run_cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    """`stream-sentinel <args>` as a user runs it, pointed at ``settings``' stack."""
    return subprocess.run(
        [CLI, *args], env=cli_env(settings), capture_output=True, text=True, timeout=180
    )


def our_pids(stack: Stack) -> list[int | None]:
    return [service.process.pid() for service in stack.services]


def alive(pid: int) -> bool:
    """Running, as opposed to gone or a zombie waiting for a non-reaping init."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def redis_client(settings: Settings) -> redis.Redis:
    return redis.Redis.from_url(settings.redis.url, socket_timeout=5)


def kafka_topics(settings: Settings) -> set[str]:
    admin = AdminClient({"bootstrap.servers": settings.kafka.bootstrap})
    return set(admin.list_topics(timeout=30).topics)


def create_topic(settings: Settings, name: str) -> None:
    admin = AdminClient({"bootstrap.servers": settings.kafka.bootstrap})
    admin.create_topics([NewTopic(name, 1, 1)])[name].result(30)


def test_up_started_every_service_on_its_configured_port(own_stack: Stack) -> None:
    ports = own_stack.ports
    reports = own_stack.status()
    assert [r.service for r in reports] == ["kafka", "redis", "registry"]
    assert [r.state for r in reports] == ["running", "running", "running"]
    assert [r.healthy for r in reports] == [True, True, True]
    assert [r.ports for r in reports] == [
        {"Kafka client": ports.kafka, "KRaft controller": ports.controller},
        {"Redis": ports.redis},
        {"schema registry": ports.registry},
    ]
    assert [r.pid for r in reports] == our_pids(own_stack)
    assert all(r.log.is_file() for r in reports)


def test_redis_runs_with_the_seed_configuration(own_stack: Stack) -> None:
    client = redis_client(own_stack.settings)
    config = client.config_get("maxmemory*") | client.config_get("append*")
    assert config["maxmemory"] == str(512 * 1024 * 1024)
    assert config["maxmemory-policy"] == "volatile-lru"
    assert (config["appendonly"], config["appendfsync"]) == ("yes", "everysec")
    assert client.config_get("bind") == {"bind": "127.0.0.1"}


def test_second_up_through_the_cli_says_already_running_and_starts_nothing(
    own_stack: Stack,
) -> None:
    before = our_pids(own_stack)
    result = run_cli(own_stack.settings, "infra", "up")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    for title, pid in zip(TITLES, before, strict=True):
        assert any(
            line.startswith(title) and "already running" in line and f"pid {pid} " in line
            for line in lines
        ), result.stdout
    assert "started" not in result.stdout.replace("already running", "")
    assert our_pids(own_stack) == before


def test_status_json_reports_each_service_with_pid_port_and_health(own_stack: Stack) -> None:
    result = run_cli(own_stack.settings, "infra", "status", "--json")
    assert result.returncode == 0, result.stderr
    status = json.loads(result.stdout)
    assert status["state_dir"] == str(own_stack.state_dir)
    services = {entry["service"]: entry for entry in status["services"]}
    pids = dict(zip(["kafka", "redis", "registry"], our_pids(own_stack), strict=True))
    ports = {"kafka": own_stack.ports.kafka, "redis": own_stack.ports.redis}
    ports["registry"] = own_stack.ports.registry
    for name, entry in services.items():
        assert (entry["state"], entry["pid"], entry["port"], entry["healthy"]) == (
            "running",
            pids[name],
            ports[name],
            True,
        )


def test_a_port_held_by_another_program_is_refused_before_anything_starts(
    tmp_path: Path,
) -> None:
    settings = isolated_settings(tmp_path / "state")
    port = settings.infra.controller_port
    assert port is not None
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", port))
        squatter.listen()
        result = run_cli(settings, "infra", "up")
    assert result.returncode == 1
    assert f"error: port {port} (KRaft controller) on 127.0.0.1 is already in use" in result.stderr
    assert "move this port with SENTINEL_INFRA_CONTROLLER_PORT=<free port>" in result.stderr
    assert "Traceback" not in result.stderr
    assert [r.state for r in Stack(settings).status()] == ["stopped", "stopped", "stopped"]


def test_a_service_that_fails_to_start_shows_the_end_of_its_log(tmp_path: Path) -> None:
    settings = isolated_settings(tmp_path / "state")
    broken = settings.with_overrides(infra={"kafka_heap": "lots"})
    stack = Stack(broken)
    require_installed(stack)
    try:
        with pytest.raises(InfraError) as failure:
            stack.up()
    finally:
        stack.down()
    message = str(failure.value)
    assert message.startswith(
        f"Kafka exited during start-up; its logs are in {stack.kafka.logs_dir}"
    )
    assert f"--- last lines of {stack.kafka.console_log} ---" in message
    assert "Invalid initial heap size: -Xmslots" in message
    assert our_pids(stack) == [None, None, None]


def test_down_never_signals_a_process_whose_pid_it_does_not_own(tmp_path: Path) -> None:
    stack = Stack(isolated_settings(tmp_path / "state"))
    stranger = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        # A pid file naming a live process that is not the registry: a recycled pid.
        create_time = psutil.Process(stranger.pid).create_time()
        write_pid_file(stack.registry.process.pid_file, PidRecord(stranger.pid, create_time, "x"))
        result = stack.down()
        assert [r.state for r in result.services] == ["not running"] * 3
        assert alive(stranger.pid)
        assert not stack.registry.process.pid_file.exists()
    finally:
        stranger.kill()
        stranger.wait()


def test_down_stops_our_pids_keeps_data_and_purge_starts_the_next_up_empty(
    own_stack: Stack,
) -> None:
    """Runs last in the module: it restarts the module's stack twice."""
    settings = own_stack.settings
    redis_client(settings).set("survives-restart", "yes")
    create_topic(settings, "survives-restart")
    pids = our_pids(own_stack)

    stopped = own_stack.down()
    assert [(r.title, r.state, r.pid) for r in stopped.services] == [
        (title, "stopped", pid) for title, pid in zip(TITLES, pids, strict=True)
    ]
    assert [pid for pid in pids if pid is not None and alive(pid)] == []
    assert [r.state for r in own_stack.status()] == ["stopped", "stopped", "stopped"]

    own_stack.up()
    assert redis_client(settings).get("survives-restart") == b"yes"
    assert "survives-restart" in kafka_topics(settings)

    purged = own_stack.down(purge=True)
    assert purged.purged == [own_stack.kafka.home, own_stack.redis.home, own_stack.registry.home]
    assert not own_stack.state_dir.exists()

    assert [r.state for r in own_stack.up()] == ["started", "started", "started"]
    assert redis_client(settings).get("survives-restart") is None
    assert "survives-restart" not in kafka_topics(settings)
