"""Two registry instances on one `_schemas` log (issue 15, item 7), started by the launcher as
`infra up --registry-instances 2` starts them, on a private stack: consistent reads through
either, one leader, failover when it is killed, and ids that never repeat, across restarts too.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import httpx
import pytest
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError

from stream_sentinel.infra.registry import RegistryService
from stream_sentinel.infra.stack import Stack
from tests.integration.stacks import cli_env, isolated_settings, running_stack

T = TypeVar("T")
CLI = str(Path(sys.executable).with_name("stream-sentinel"))
LEADER_HEADER = "x-schema-registry-leader"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    settings = isolated_settings(tmp_path_factory.mktemp("two-registries"))
    settings = settings.with_overrides(infra={"registry_instances": 2})
    with running_stack(settings) as started:
        yield started


def client(service: RegistryService) -> SchemaRegistryClient:
    return SchemaRegistryClient({"url": service.endpoint})


def schema(name: str) -> Schema:
    fields = [{"name": "id", "type": "string"}]
    return Schema(json.dumps({"type": "record", "name": name, "fields": fields}), "AVRO")


def leads(service: RegistryService) -> bool:
    try:
        return httpx.get(service.endpoint + "/", timeout=2.0).headers.get(LEADER_HEADER) == "true"
    except httpx.HTTPError:
        return False


def within(seconds: float, attempt: Callable[[], T]) -> T:
    """``attempt()``'s result once it stops raising registry or HTTP errors, or its last error."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return attempt()
        except (SchemaRegistryError, httpx.HTTPError, OSError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def test_infra_up_starts_both_and_status_lists_each_with_its_port(stack: Stack) -> None:
    reports = [r for r in stack.status() if r.service.startswith("registry")]
    assert [(r.service, r.state, r.healthy) for r in reports] == [
        ("registry", "running", True),
        ("registry-2", "running", True),
    ]
    assert reports[0].port == stack.ports.registry != reports[1].port
    shown = subprocess.run(
        [CLI, "infra", "status", "--json"],
        env=cli_env(stack.settings),
        capture_output=True,
        text=True,
        timeout=120,
    )
    listed = {s["service"]: s["port"] for s in json.loads(shown.stdout)["services"]}
    assert (listed["registry"], listed["registry-2"]) == (reports[0].port, reports[1].port)
    # Exactly one leads (a rebalance as the second joined may still be handing it over).
    deadline = time.monotonic() + 30
    while sorted(leads(service) for service in stack.registries) != [False, True]:
        assert time.monotonic() < deadline, "no single leader within 30 s"
        time.sleep(0.2)


@pytest.mark.parametrize("writer", [0, 1])
def test_a_schema_registered_through_one_is_read_through_the_other_at_once(
    stack: Stack, writer: int
) -> None:
    source, reader = stack.registries[writer], stack.registries[1 - writer]
    subject = f"both-{writer}-value"
    schema_id = client(source).register_schema(subject, schema(f"Both{writer}"))
    other = client(reader)  # no cache and no waiting: the very next request
    latest = other.get_latest_version(subject)
    assert (latest.subject, latest.version, latest.schema_id) == (subject, 1, schema_id)
    stored = other.get_schema(schema_id).schema_str or ""
    assert json.loads(stored) == json.loads(schema(f"Both{writer}").schema_str or "")


def test_ids_are_unique_and_increase_whichever_instance_takes_the_write(stack: Stack) -> None:
    ids = [
        client(stack.registries[n % 2]).register_schema(f"ids-{n}-value", schema(f"Ids{n}"))
        for n in range(8)
    ]
    assert ids == sorted(set(ids))
    seen = [client(service).get_subjects() for service in stack.registries]
    assert seen[0] == seen[1]


def test_killing_the_leader_moves_the_leadership_and_writes_continue(stack: Stack) -> None:
    leader = next(s for s in stack.registries if leads(s))
    survivor = next(s for s in stack.registries if s is not leader)
    before = client(survivor).register_schema("failover-1-value", schema("Failover1"))
    pid = leader.process.pid()
    assert pid is not None
    os.kill(pid, signal.SIGKILL)  # our own child, by pid
    after = within(90, lambda: client(survivor).register_schema("failover-2-value", schema("F2")))
    assert after > before
    assert leads(survivor)
    stack.up()  # restarts the killed instance; it follows the new leader
    assert not leads(leader)
    restarted = client(leader)
    assert restarted.get_latest_version("failover-2-value").schema_id == after
    third = restarted.register_schema("failover-3-value", schema("Failover3"))  # forwarded
    assert third > after


def test_after_a_restart_of_both_ids_continue_where_they_were(stack: Stack) -> None:
    highest = max(
        client(stack.registry).get_latest_version(subject).schema_id
        for subject in client(stack.registry).get_subjects()
    )
    for service in stack.registries:
        service.process.stop(stack.settings.infra.stop_timeout_s)
    stack.up()
    fresh = within(
        60, lambda: client(stack.registries[1]).register_schema("again-value", schema("Again"))
    )
    assert fresh == highest + 1
    assert client(stack.registry).get_latest_version("again-value").schema_id == fresh
