"""Exit codes a supervisor can trust: a fatal condition ends `detect` (and `alerts run`) with one
`error:` line naming the service, and a non-zero status, so the supervisor restarts it.

Start-up failures run against the session stack with one service's address pointing at a port
where nothing listens. Services killed mid-run die on a stack of this module's own, restarted
after each test; Redis' retries (``SENTINEL_REDIS_RETRY_*``) and the registry's timeout are cut
short, so each run ends within seconds of the kill. Nothing here asserts how long anything took:
a generous subprocess timeout only keeps a hang from blocking the suite.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import pytest

from stream_sentinel.clients.registry import connect_registry
from stream_sentinel.config import Settings
from stream_sentinel.infra.process import free_ports
from stream_sentinel.infra.stack import Stack
from stream_sentinel.state import keys
from stream_sentinel.state.base import Batch
from stream_sentinel.state.redis import RedisStateStore
from stream_sentinel.transport.kafka import KafkaBroker
from stream_sentinel.transport.topics import Topics
from stream_sentinel.wire.schemas.catalog import find, value_subject
from stream_sentinel.wire.serde import AvroEncoder
from tests.integration.detector_support import (
    SENTINEL,
    applied_offsets,
    create_topics,
    produce,
    transactions,
    wait_until,
)
from tests.integration.stacks import cli_env, isolated_settings, running_stack

pytestmark = pytest.mark.integration

#: Retries short enough that an outage is fatal within a few seconds.
SHORT_RETRIES = {
    "SENTINEL_REDIS_RETRY_ATTEMPTS": "3",
    "SENTINEL_REDIS_RETRY_BACKOFF_S": "0.1",
    "SENTINEL_REDIS_RETRY_BACKOFF_MAX_S": "0.2",
    "SENTINEL_REDIS_SOCKET_TIMEOUT_S": "1",
    "SENTINEL_REGISTRY_TIMEOUT_S": "2",
    "SENTINEL_ALERTS_SWEEP_INTERVAL_S": "0.5",
    "SENTINEL_KAFKA_OUTAGE_LIMIT_S": "8",  # the first probe is at once, then one every 5 s
}
#: Only guards against a hang; every run here ends in seconds.
EXIT_TIMEOUT_S = 120.0
HOW = "start the local stack with `stream-sentinel infra up`, or set"


@dataclass
class Ended:
    """A finished CLI run: its status and its stderr lines."""

    code: int
    stderr: list[str]
    stdout: str

    @property
    def error(self) -> str:
        """The one `error:` line (librdkafka may log around it; there must be exactly one)."""
        errors = [line for line in self.stderr if line.startswith("error: ")]
        assert len(errors) == 1, "\n".join(self.stderr[-40:])
        return errors[0]

    def assert_no_traceback(self) -> None:
        assert not any("Traceback" in line for line in self.stderr), "\n".join(self.stderr[-60:])


class Cli:
    """`stream-sentinel ...` as a supervisor runs it, output kept in files (a pipe nobody reads
    could fill up while a broker is down and librdkafka logs every reconnect)."""

    def __init__(self, settings: Settings, out_dir: Path, *args: str) -> None:
        env = cli_env(settings) | SHORT_RETRIES
        self._stdout = (out_dir / "stdout.txt").open("w+")
        self._stderr = (out_dir / "stderr.txt").open("w+")
        self.process = subprocess.Popen(
            [SENTINEL, *args], env=env, stdout=self._stdout, stderr=self._stderr, text=True
        )

    def wait(self) -> Ended:
        try:
            self.process.wait(timeout=EXIT_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"still running:\n{self._read(self._stderr)[-4000:]}") from None
        stderr, stdout = self._read(self._stderr), self._read(self._stdout)
        self._stderr.close()
        self._stdout.close()
        return Ended(self.process.returncode, stderr.splitlines(), stdout)

    @staticmethod
    def _read(handle: Any) -> str:
        handle.seek(0)
        return str(handle.read())


def ended(settings: Settings, out_dir: Path, *args: str) -> Ended:
    return Cli(settings, out_dir, *args).wait()


# -- at start-up: the preflight refuses -----------------------------------------------------------
RUNNERS = [["detect"], ["alerts", "run"]]


def _dead(stack_settings: Settings, variable: str, url: str) -> tuple[Settings, str]:
    [port] = free_ports(1)
    dead = url.format(port=port)
    section, field = {
        "SENTINEL_KAFKA_BOOTSTRAP": ("kafka", "bootstrap"),
        "SENTINEL_REDIS_URL": ("redis", "url"),
        "SENTINEL_REGISTRY_URL": ("registry", "url"),
    }[variable]
    return stack_settings.with_overrides(**{section: {field: dead}}), dead


@pytest.mark.parametrize("command", RUNNERS, ids=" ".join)
@pytest.mark.parametrize(
    ("variable", "url", "service"),
    [
        ("SENTINEL_KAFKA_BOOTSTRAP", "127.0.0.1:{port}", "Kafka at {dead}"),
        (
            "SENTINEL_REDIS_URL",
            "redis://127.0.0.1:{port}",
            "Redis at {dead} (nothing listens there)",
        ),
        ("SENTINEL_REGISTRY_URL", "http://127.0.0.1:{port}", "the schema registry at {dead}"),
    ],
    ids=["broker", "redis", "registry"],
)
def test_a_service_down_at_start_ends_the_run_with_status_1_naming_it(
    stack_settings: Settings,
    tmp_path: Path,
    command: list[str],
    variable: str,
    url: str,
    service: str,
) -> None:
    settings, dead = _dead(stack_settings, variable, url)
    run = ended(settings, tmp_path, *command, "--until-idle", "1")
    assert run.code == 1
    assert run.error == (
        f"error: cannot reach {service.format(dead=dead)}: {HOW} {variable} to a running one"
    )
    run.assert_no_traceback()


def test_malformed_settings_end_detect_with_status_2_before_any_service_is_asked(
    stack_settings: Settings,
) -> None:
    env = cli_env(stack_settings) | {"SENTINEL_DETECTOR_RULES": "{not json"}
    result = subprocess.run(
        [SENTINEL, "detect"], env=env, capture_output=True, text=True, timeout=EXIT_TIMEOUT_S
    )
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "error: SENTINEL_DETECTOR_RULES is not valid JSON (Expecting property name enclosed in "
        'double quotes at character 2); set it to a JSON object such as {"high_amount_multiple": '
        "5.0}"
    ]
    assert result.stdout == ""


# -- mid-run: a service dies under a running detector ---------------------------------------------
@pytest.fixture(scope="module")
def own_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, Settings]]:
    settings = isolated_settings(tmp_path_factory.mktemp("exit-codes-stack"))
    with running_stack(settings) as stack:
        yield stack, settings


@pytest.fixture
def stack(
    own_stack: tuple[Stack, Settings], request: pytest.FixtureRequest
) -> Iterator[tuple[Stack, Settings]]:
    """The module's stack with this test's own topics and keys; what the test killed is
    started again afterwards."""
    stack, base = own_stack
    tag = request.node.name.removeprefix("test_")[:24].replace("_", "-")
    settings = base.with_overrides(kafka={"topic_prefix": f"{tag}-"}, redis={"key_namespace": tag})
    create_topics(settings)
    yield stack, settings
    stack.up()


def _kill(stack: Stack, service: str) -> None:
    pid = getattr(stack, service).process.pid()
    assert pid is not None, f"{service} is not running"
    os.kill(pid, signal.SIGKILL)


def _running_detector(settings: Settings, out_dir: Path, *args: str) -> Cli:
    """`detect` started on 2,000 transactions and seen to apply all of them."""
    sent = produce(settings, transactions(2000, users=200, seed=1))
    detector = Cli(settings, out_dir, "detect", *args)
    wait_until(lambda: applied_offsets(settings) >= sent, what="the detector to apply the input")
    return detector


def test_redis_killed_under_detect_ends_it_with_status_1_naming_redis(
    stack: tuple[Stack, Settings], tmp_path: Path
) -> None:
    services, settings = stack
    detector = _running_detector(settings, tmp_path)
    _kill(services, "redis")
    produce(settings, transactions(200, users=200, seed=2))  # a batch whose state cannot be written
    run = detector.wait()
    assert run.code == 1
    assert run.error.startswith(f"error: Redis at {settings.redis.url} is unavailable after 3 ")
    assert run.error.endswith(
        "Is it running? `stream-sentinel infra status` shows the local one; SENTINEL_REDIS_URL "
        "points elsewhere."
    )
    run.assert_no_traceback()


def test_redis_killed_under_two_detect_workers_ends_the_run_with_status_1(
    stack: tuple[Stack, Settings], tmp_path: Path
) -> None:
    services, settings = stack
    detector = _running_detector(settings, tmp_path, "--workers", "2")
    _kill(services, "redis")
    produce(settings, transactions(200, users=200, seed=2))
    run = detector.wait()
    assert run.code == 1
    assert run.error.startswith(f"error: Redis at {settings.redis.url} is unavailable after 3 ")
    assert "detector summary" not in run.stdout  # it did not report a finished run
    run.assert_no_traceback()


def test_a_detect_worker_killed_without_a_word_ends_the_run_with_status_1(
    stack: tuple[Stack, Settings], tmp_path: Path
) -> None:
    _, settings = stack
    detector = _running_detector(settings, tmp_path, "--workers", "2")
    workers = psutil.Process(detector.process.pid).children()
    spawned = [w for w in workers if "spawn_main" in " ".join(w.cmdline())]
    assert len(spawned) >= 2, [w.cmdline() for w in workers]
    os.kill(spawned[0].pid, signal.SIGKILL)  # as the watchdog or the OOM killer would end it
    run = detector.wait()
    assert run.code == 1
    assert re.fullmatch(r"error: detector worker \d was killed by signal 9", run.error)
    run.assert_no_traceback()


def test_two_detect_workers_that_finish_their_run_exit_0(
    stack: tuple[Stack, Settings], tmp_path: Path
) -> None:
    _, settings = stack
    sent = produce(settings, transactions(2000, users=200, seed=4))
    run = ended(settings, tmp_path, "detect", "--workers", "2", "--until-idle", "2")
    assert run.code == 0, "\n".join(run.stderr[-40:])
    assert applied_offsets(settings) == sent
    assert "detector summary" in run.stdout
    assert not [line for line in run.stderr if line.startswith("error: ")]


def test_redis_killed_under_alerts_run_ends_it_with_status_1_naming_redis(
    stack: tuple[Stack, Settings], tmp_path: Path
) -> None:
    services, settings = stack
    processor = Cli(settings, tmp_path, "alerts", "run")
    wait_until(lambda: _heartbeat(settings, settings.alerts.group_id, "alerts-0"), what="start")
    _kill(services, "redis")
    run = processor.wait()
    assert run.code == 1
    assert run.error.startswith(f"error: Redis at {settings.redis.url} is unavailable after 3 ")
    run.assert_no_traceback()


def test_registry_killed_before_a_new_schema_id_arrives_ends_detect_with_status_1(
    stack: tuple[Stack, Settings], tmp_path: Path
) -> None:
    services, settings = stack
    detector = _running_detector(settings, tmp_path)  # it knows the v2 writer's schema id
    older = _framed_v1(settings, transactions(50, users=200, seed=3))  # a v1 producer's id
    _kill(services, "registry")
    _produce_raw(settings, older)
    run = detector.wait()
    assert run.code == 1
    assert run.error.startswith(
        f"error: schema registry at {settings.registry.url} is unreachable ("
    )
    assert run.error.endswith(
        "); is it running? (stream-sentinel infra up, or set SENTINEL_REGISTRY_URL)"
    )
    run.assert_no_traceback()


def test_broker_stopped_under_detect_ends_it_with_status_1_naming_kafka(
    stack: tuple[Stack, Settings], tmp_path: Path
) -> None:
    services, settings = stack
    detector = _running_detector(settings, tmp_path)
    services.kafka.process.stop(settings.infra.stop_timeout_s)
    run = detector.wait()
    assert run.code == 1
    # retried (librdkafka reconnects, the runner probes) and reported, then given up on
    assert re.fullmatch(
        rf"error: the detector stopped: Kafka at {re.escape(settings.kafka.bootstrap)} failed "
        r"\(unreachable for (\d+) s, the outage limit \(SENTINEL_KAFKA_OUTAGE_LIMIT_S\)\)\. Is "
        r"the broker running\? `stream-sentinel infra status` shows the local one",
        run.error,
    )
    retries = [line for line in run.stderr if "Kafka unreachable for " in line]
    assert retries and all(line.endswith("; retrying (limit 8 s)") for line in retries)
    run.assert_no_traceback()


# -- helpers --------------------------------------------------------------------------------------
def _heartbeat(settings: Settings, group: str, worker: str) -> bool:
    store = RedisStateStore(settings.redis.model_copy(update={"retry_attempts": 3}))
    try:
        [beat] = store.execute(Batch().exists(keys.PIPELINE, keys.worker_status(group, worker)))
    finally:
        store.close()
    return bool(beat)


def _framed_v1(settings: Settings, records: list[dict[str, Any]]) -> list[tuple[bytes, bytes]]:
    """Transactions as a producer still on schema v1 sends them: registered (while the
    registry is up) under an id the running detector has not seen."""
    subject = value_subject("transactions", Topics.from_settings(settings))
    registry = connect_registry(settings.registry)
    encode = AvroEncoder(registry, subject, find("Transaction", 1).text)
    try:
        return [
            (r["user_id"].encode(), encode({k: v for k, v in r.items() if k != "metadata"}))
            for r in records
        ]
    finally:
        registry.close()


def _produce_raw(settings: Settings, keyed: list[tuple[bytes, bytes]]) -> None:
    producer = KafkaBroker(settings.kafka).producer()
    topic = Topics.from_settings(settings).transactions
    for key, value in keyed:
        producer.produce(topic, value, key)
    assert producer.flush(30) == 0
