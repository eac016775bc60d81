"""`topics create|list` and `check` against the session stack, passing and failing."""

from __future__ import annotations

import subprocess

from stream_sentinel.config import Settings
from stream_sentinel.infra.process import free_ports
from stream_sentinel.transport.base import TopicSpec
from stream_sentinel.transport.kafka import KafkaBroker
from stream_sentinel.transport.topics import LAYOUT
from tests.integration.detector_support import SENTINEL
from tests.integration.stacks import cli_env


def sentinel(settings: Settings, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SENTINEL, *args], env=cli_env(settings) | env, capture_output=True, text=True, timeout=120
    )


def test_topics_create_is_idempotent_and_list_checks_the_layout(settings: Settings) -> None:
    prefix = settings.kafka.topic_prefix
    first = sentinel(settings, "topics", "create")
    assert first.returncode == 0, first.stderr
    created = [line.split()[1] for line in first.stdout.splitlines() if line.startswith("created")]
    assert sorted(created) == sorted(prefix + name for name in LAYOUT)
    assert first.stdout.splitlines()[-1] == "10 created, 0 existed"
    again = sentinel(settings, "topics", "create")
    assert again.stdout.splitlines()[-1] == "0 created, 10 existed"
    listed = sentinel(settings, "topics", "list")
    assert listed.returncode == 0, listed.stdout
    info = KafkaBroker(settings.kafka).admin().describe_topics([prefix + "transactions"])
    assert info[prefix + "transactions"].partitions == 12
    assert info[prefix + "transactions"].config["compression.type"] == "lz4"
    assert info[prefix + "transactions"].config["retention.ms"] == str(168 * 3600 * 1000)


def test_topics_list_flags_a_topic_that_differs_from_the_layout(settings: Settings) -> None:
    prefix = settings.kafka.topic_prefix
    KafkaBroker(settings.kafka).admin().create_topics([TopicSpec(prefix + "fraud-alerts", 2)])
    sentinel(settings, "topics", "create")
    listed = sentinel(settings, "topics", "list")
    assert listed.returncode == 1
    assert "has 2 partitions, expected 6" in listed.stdout
    assert "difference(s) from the expected layout" in listed.stdout


def test_check_passes_on_a_complete_stack(settings: Settings) -> None:
    sentinel(settings, "topics", "create")
    assert sentinel(settings, "schemas", "register").returncode == 0
    result = sentinel(settings, "check")
    assert result.returncode == 0, result.stdout
    lines = result.stdout.splitlines()
    assert lines[-1] == "All connectivity checks PASSED"
    assert sum(line.startswith("PASS") for line in lines) == 11
    assert any("all 10 topics present" in line for line in lines)
    quorum = [line for line in lines if "kafka: controller quorum" in line]
    assert [q.split(None, 1)[0] for q in quorum] == ["SKIP"], result.stdout
    assert quorum[0].endswith("  not checked (single voter)"), quorum
    assert "PASS  kafka: topic replication factor" in result.stdout
    assert "1 replica(s) per topic on 1 broker(s)" in result.stdout
    assert any(
        line.startswith("PASS  kafka: replication (ISR)")
        and "fully in sync (replication factor 1, min.insync.replicas 1)" in line
        for line in lines
    ), result.stdout
    assert any(line.startswith("PASS  redis: persistence (AOF)") for line in lines)


def test_check_fails_naming_redis_and_the_registry_when_they_are_down(settings: Settings) -> None:
    sentinel(settings, "topics", "create")
    dead_redis, dead_registry = free_ports(2)
    result = sentinel(
        settings,
        "check",
        "--timeout",
        "2",
        SENTINEL_REDIS_URL=f"redis://127.0.0.1:{dead_redis}",
        SENTINEL_REGISTRY_URL=f"http://127.0.0.1:{dead_registry}",
    )
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert [line.split()[1:3] for line in lines if line.startswith("FAIL")] == [
        ["redis:", "ping"],
        ["redis:", "write/read/delete"],
        ["redis:", "memory"],
        ["redis:", "persistence"],
        ["registry:", "subjects"],
    ]
    kafka = [line for line in lines if "kafka:" in line]
    assert [line.split()[0] for line in kafka] == ["PASS", "SKIP"] + ["PASS"] * 5, kafka
    assert lines[-1].startswith("5 check(s) FAILED: redis: ping")
