"""`stream-sentinel bench` on the session stack at a tiny size: every figure present and sane.

One `bench all` run (through the CLI, as a user runs it) feeds the checks of each mode. Nothing
here asserts a speed: counts must equal what was produced, ratios must follow from the rates,
percentiles must be ordered, and everything the benchmark created must be gone afterwards.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from stream_sentinel.cli import cli
from stream_sentinel.clients.registry import connect_registry
from stream_sentinel.config import Settings
from stream_sentinel.infra.process import free_ports
from stream_sentinel.state.base import Namespace
from stream_sentinel.state.redis import RedisStateStore
from stream_sentinel.transport.kafka import KafkaBroker
from tests.integration.stacks import cli_env

COUNT = 2_000
USERS = 200
RATES = (100, 300)
NAIVE_LIMIT = 60
SCALING_USERS = (200, 1_000)
WORKERS = (1, 2)
ARGS = [
    "bench", "all", "--count", str(COUNT), "--users", str(USERS), "--duration", "1.5",
    "--warmup", "0.5", "--rates", ",".join(map(str, RATES)), "--naive-count", str(NAIVE_LIMIT),
    "--naive-seconds", "3", "--scaling-users", ",".join(map(str, SCALING_USERS)),
    "--workers", ",".join(map(str, WORKERS)),
]  # fmt: skip


@pytest.fixture(scope="module")
def document(stack_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    path = tmp_path_factory.mktemp("bench") / "bench.json"
    result = CliRunner().invoke(cli, [*ARGS, "--json", str(path)], env=cli_env(stack_settings))
    assert result.exit_code == 0, result.output + repr(result.exception)
    assert "throughput" in result.output and "latency" in result.output
    parsed: dict[str, Any] = json.loads(path.read_text())
    return parsed


def test_context_names_the_machine_versions_settings_and_data(document: dict[str, Any]) -> None:
    assert document["machine"]["cores"] >= 1
    assert document["machine"]["memory_gb"] > 0
    versions = document["versions"]
    assert versions["python"].count(".") == 2
    assert versions["librdkafka"] and versions["confluent_kafka"] and versions["redis"]
    assert versions["kafka"] is not None  # the session stack's broker runs on this machine
    assert document["settings"]["detector"]["model_version"].startswith("m-")
    assert document["settings"]["kafka"]["latency_client_profile"]["producer_linger_ms"] == 1
    assert document["data"]["count"] == COUNT and document["data"]["users"] == USERS
    assert document["bench"]["mode"] == "all" and document["bench"]["stack"] == "configured"


def test_throughput_counts_every_decision_once_and_ratios_follow_from_the_rates(
    document: dict[str, Any],
) -> None:
    figures = document["throughput"]
    assert (figures["guarantee"], figures["count"], figures["users"]) == (
        "exactly-once", COUNT, USERS
    )  # fmt: skip
    assert figures["decisions_visible"] == COUNT
    assert figures["distinct_decisions"] == COUNT
    assert figures["ceiling"]["outputs"] == COUNT
    for name in ("ours_tps", "ceiling_tps", "naive_tps", "cpu_s_per_1k"):
        assert figures[name] > 0, name
    assert figures["ours_vs_ceiling"] == round(figures["ours_tps"] / figures["ceiling_tps"], 4)
    assert figures["ours_vs_naive"] == round(figures["ours_tps"] / figures["naive_tps"], 4)
    ours = figures["ours"]
    assert ours["batches"]["records"] == COUNT
    assert 1 <= ours["batches"]["mean_batch"] <= ours["batches"]["max_batch"] <= COUNT
    assert sum(ours["decisions"].values()) == COUNT
    assert set(ours["stage_ms_per_1k"]) >= {"decode", "state_read", "features", "score"}


def test_throughput_reports_redis_memory_per_user(document: dict[str, Any]) -> None:
    figures = document["throughput"]
    memory = figures["ours"]["memory"]
    assert 0 < memory["users_with_state"] <= USERS
    assert isinstance(figures["redis_bytes_per_user"], float)
    # A profile is a 250-byte string; key, TTL and allocator rounding keep it well under 1 KiB.
    assert 250 < figures["profile_key_bytes"] < 1024


def test_naive_reference_is_bounded_and_every_output_is_counted(document: dict[str, Any]) -> None:
    naive = document["throughput"]["naive"]
    assert 0 < naive["records"] <= NAIVE_LIMIT
    assert naive["outputs"] == naive["records"] == naive["distinct_decisions"]
    assert naive["memory"]["profile_key_bytes"] > 0


def test_latency_has_one_ordered_row_per_rate_and_guarantee(document: dict[str, Any]) -> None:
    rows = document["latency"]
    expected = {(g, r) for g in ("at-least-once", "exactly-once") for r in RATES}
    assert {(row["guarantee"], row["rate"]) for row in rows} == expected
    for row in rows:
        assert row["decisions_visible"] == row["sent"] > 0
        assert 0 < row["measured"] <= row["sent"]
        points = [row[k] for k in ("p50_ms", "p90_ms", "p99_ms", "p999_ms", "max_ms")]
        assert points == sorted(points) and points[0] > 0
        assert row["client_profile"] == "low-latency"


def test_scaling_has_a_row_per_population_and_worker_count(document: dict[str, Any]) -> None:
    rows = document["scaling"]
    assert [(row["users"], row["workers"]) for row in rows] == [
        (u, w) for u in SCALING_USERS for w in WORKERS
    ]
    for row in rows:
        assert row["tps"] > 0
        assert row["decisions_visible"] == row["count"] == COUNT
        assert 0 < row["users_with_state"] <= row["users"]
        assert isinstance(row["redis_bytes_per_user"], float)


def test_targets_are_judged_from_the_figures(document: dict[str, Any]) -> None:
    by_name = {t["target"]: t for t in document["targets"]}
    naive = by_name["ours >= 10x naive"]
    assert naive["measured"] == document["throughput"]["ours_vs_naive"]
    assert naive["met"] == (naive["measured"] >= 10)
    assert {"p99 < 10 ms at 5,000/s (at-least-once)"} & set(by_name) == set()  # 5,000/s not run


def test_the_benchmark_leaves_no_topics_keys_or_subjects_behind(
    document: dict[str, Any], stack_settings: Settings
) -> None:
    admin = KafkaBroker(stack_settings.kafka).admin()
    try:
        assert [t for t in admin.describe_topics(None) if t.startswith("bench-")] == []
    finally:
        admin.close()
    registry = connect_registry(stack_settings.registry)
    assert [s for s in registry.subjects() if s.startswith("bench-")] == []
    store = RedisStateStore(stack_settings.redis)
    try:
        assert [k for ns in Namespace for k in store.scan(ns, "bench-*")] == []
    finally:
        store.close()


def test_bad_input_fails_at_once_with_the_flag_named(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["bench", "throughput", "--count", "0"])
    assert result.exit_code == 2
    assert "--count must be between 1" in result.output
    result = runner.invoke(cli, ["bench", "latency", "--rates", "1000,fast"])
    assert result.exit_code == 2
    assert "--rates" in result.output and "comma" in result.output


def test_a_stack_that_is_not_running_says_how_to_start_one(stack_settings: Settings) -> None:
    [port] = free_ports(1)
    env = cli_env(stack_settings) | {"SENTINEL_KAFKA_BOOTSTRAP": f"127.0.0.1:{port}"}
    result = CliRunner().invoke(cli, ["bench", "throughput"], env=env)
    assert result.exit_code == 1
    assert f"cannot reach Kafka at 127.0.0.1:{port}" in result.output
    assert "stream-sentinel infra up" in result.output
