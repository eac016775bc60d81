"""Restart: a registry process of its own (free port, private `_schemas` topic on the session's
Kafka) is stopped and started again, and every subject, version, id and config is still there."""

from __future__ import annotations

import hashlib
import json
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError

from stream_sentinel.config import Settings
from stream_sentinel.infra.process import free_ports
from stream_sentinel.infra.registry import registry_command, registry_env
from stream_sentinel.infra.service import child_env
from stream_sentinel.registry_server.service import election_topic
from stream_sentinel.transport.kafka import KafkaBroker
from stream_sentinel.transport.topics import Topics


@contextmanager
def registry_process(settings: Settings, port: int, log: Path) -> Iterator[str]:
    """``stream-sentinel schema-registry`` on ``port``; stopped (SIGTERM, by pid) on exit."""
    url = f"http://127.0.0.1:{port}"
    with log.open("ab") as output:
        process = subprocess.Popen(
            registry_command(port),
            env=child_env(registry_env(settings)),
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_until_up(url, process, log)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _wait_until_up(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the registry exited with {process.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(url + "/", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    pytest.fail(f"the registry did not answer within 90 s:\n{log.read_text()}")


def record(name: str, *extra: dict[str, Any]) -> Schema:
    fields = [{"name": "id", "type": "string"}, *extra]
    return Schema(f'{{"type":"record","name":"{name}","fields":{_json(fields)}}}', "AVRO")


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


OPTIONAL = {"name": "note", "type": ["null", "string"], "default": None}


def snapshot(url: str) -> dict[str, Any]:
    """Everything a client can see: subjects (live and deleted), versions, ids, configs."""
    client = SchemaRegistryClient({"url": url})
    live = client.get_subjects()
    every = client.get_subjects(deleted=True)
    versions = {
        subject: [
            (v.version, v.schema_id, v.schema.schema_str)
            for v in (
                client.get_version(subject, n, deleted=True)
                for n in client.get_versions(subject, deleted=True)
            )
        ]
        for subject in every
    }
    configs = {}
    for subject in every:
        try:
            configs[subject] = client.get_compatibility(subject)
        except SchemaRegistryError:
            configs[subject] = None
    return {
        "live": live,
        "all": every,
        "versions": versions,
        "configs": configs,
        "global": client.get_compatibility(),
        "mode": client.get_global_mode(),
    }


@pytest.fixture
def private(stack_settings: Settings, request: pytest.FixtureRequest) -> Iterator[Settings]:
    """The session's Kafka under a prefix of its own: the registry gets a private _schemas."""
    tag = "r" + hashlib.sha1(request.node.nodeid.encode()).hexdigest()[:8]
    settings = stack_settings.with_overrides(kafka={"topic_prefix": f"{tag}-"})
    yield settings
    schemas = Topics.from_settings(settings).schemas
    admin = KafkaBroker(settings.kafka).admin()
    try:
        admin.delete_topics([schemas, election_topic(schemas)])
    finally:
        admin.close()


def test_state_survives_a_restart(private: Settings, tmp_path: Path) -> None:
    port = free_ports(1)[0]
    log = tmp_path / "registry.log"
    with registry_process(private, port, log) as url:
        client = SchemaRegistryClient({"url": url})
        first = client.register_schema("pay-value", record("Pay"))
        second = client.register_schema("pay-value", record("Pay", OPTIONAL))
        shared = client.register_schema("refund-value", record("Pay"))
        doomed = client.register_schema("doomed-value", record("Doomed"))
        client.set_compatibility(level="FULL")
        client.set_compatibility("refund-value", "NONE")
        client.delete_version("pay-value", 1)
        client.delete_subject("doomed-value")
        client.delete_subject("doomed-value", permanent=True)
        before = snapshot(url)
    assert (first, second, shared, doomed) == (1, 2, 1, 3)
    assert before["live"] == ["pay-value", "refund-value"]
    assert before["versions"]["pay-value"][0][:2] == (1, 1)

    with registry_process(private, port, log) as url:
        assert snapshot(url) == before
        client = SchemaRegistryClient({"url": url})
        assert client.get_schema(1).schema_str == record("Pay").schema_str
        with pytest.raises(SchemaRegistryError) as gone:
            client.get_schema(3)
        assert gone.value.error_code == 40403
        assert client.register_schema("new-value", record("Fresh")) == 4  # 3 is never reused
        assert client.register_schema("pay-value", record("Pay", OPTIONAL)) == 2
        assert client.get_versions("pay-value") == [2]
    assert "schema registry on http://127.0.0.1" in log.read_text()


def test_a_fresh_topic_is_created_and_an_empty_registry_starts(
    private: Settings, tmp_path: Path
) -> None:
    topic = Topics.from_settings(private).schemas
    with registry_process(private, free_ports(1)[0], tmp_path / "registry.log") as url:
        assert snapshot(url)["all"] == []
        admin = KafkaBroker(private.kafka).admin()
        try:
            info = admin.describe_topics([topic])[topic]
        finally:
            admin.close()
    assert info.partitions == 1
    assert info.config.get("cleanup.policy") == "compact"
