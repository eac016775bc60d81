"""The benchmark's terminal report, rendered without a terminal and read back cell by cell."""

from __future__ import annotations

import io
from typing import Any

import pytest
from rich.console import Console

from stream_sentinel.bench.report import print_report

pytestmark = pytest.mark.unit

CONTEXT: dict[str, Any] = {
    "bench": {"mode": "all", "date": "2026-01-01T00:00:00Z", "stack": "configured"},
    "machine": {"cores": 8, "memory_gb": 31.2, "load_average_1m": 0.5},
    "versions": {
        "python": "3.11.7",
        "confluent_kafka": "2.6.0",
        "librdkafka": "2.6.1",
        "kafka": "3.9.0",
        "redis": None,
    },
    "settings": {"detector": {"model_version": "m-0123456789ab"}},
}


def render(**sections: Any) -> list[str]:
    out = io.StringIO()
    print_report(Console(file=out, width=240, color_system=None), {**CONTEXT, **sections})
    return out.getvalue().splitlines()


def cells(lines: list[str], bar: str) -> list[list[str]]:
    return [[c.strip() for c in line.strip(bar).split(bar)] for line in lines if bar in line]


def rows(lines: list[str]) -> list[list[str]]:
    """The body rows of every table, as stripped cells."""
    return cells(lines, "│")


def headers(lines: list[str]) -> list[list[str]]:
    """The header row of every table."""
    return cells(lines, "┃")


def prose(lines: list[str]) -> list[str]:
    """The lines outside any table."""
    return [line.rstrip() for line in lines if not set(line) & set("│┃┏┡└")]


def test_the_context_line_names_the_machine_versions_stack_and_model() -> None:
    assert render() == [
        "stream-sentinel bench all 2026-01-01T00:00:00Z — 8 cores, 31.2 GB, load 0.5 — Python "
        "3.11.7, confluent-kafka 2.6.0 (librdkafka 2.6.1), Kafka 3.9.0, Redis ? — configured "
        "stack, model m-0123456789ab"
    ]


def test_the_context_line_says_when_the_feature_log_was_off() -> None:
    off = {"detector": {"model_version": "m-0123456789ab", "feature_log": False}}
    [line] = render(settings=off)
    assert line.endswith("configured stack, model m-0123456789ab, feature log off")


def test_throughput_rows_compare_ours_with_the_ceiling_and_the_naive_detector() -> None:
    lines = render(
        throughput={
            "count": 200_000,
            "users": 100_000,
            "guarantee": "exactly-once",
            "ours": {
                "tps": 31_234.56,
                "cpu_s_per_1k": 0.0312,
                "kafka_cpu_s_per_1k": 0.01,
                "batches": {"mean_batch": 812.4},
                "memory": {
                    "redis_bytes_per_user": 402.7,
                    "users_with_state": 99_000,
                    "profile_key_bytes": 288.0,
                },
                "stage_ms_per_1k": {"decode": 1.26, "score": 10.0},
            },
            "ceiling": {
                "tps": 90_000.0,
                "cpu_s_per_1k": 0.005,
                "kafka_cpu_s_per_1k": None,
                "batches": {"mean_batch": None},
            },
            "naive": {
                "records": 5_000,
                "tps": 812.34,
                "cpu_s_per_1k": 1.5,
                "kafka_cpu_s_per_1k": 0.2,
                "memory": {"profile_key_bytes": 1_024.0},
            },
            "ours_vs_ceiling": 0.347,
            "ours_vs_naive": 38.45,
            "decisions_visible": 200_000,
            "distinct_decisions": 199_999,
        }
    )
    assert headers(lines) == [
        ["", "tx/s", "vs ours", "CPU s / 1k tx", "Kafka CPU s / 1k", "mean batch"]
    ]
    assert rows(lines) == [
        ["ours", "31,235", "1", "0.031", "0.010", "812"],
        ["ceiling (raw pass-through)", "90,000", "ours = 0.35 x ceiling", "0.005", "-", "-"],
        [
            "naive per-message (5,000 records)",
            "812.3",
            "ours = 38.5 x naive",
            "1.500",
            "0.200",
            "1",
        ],
    ]
    assert prose(lines)[1:] == [
        "throughput: 200,000 transactions, 100,000 users, exactly-once",
        "decisions visible 200,000 (distinct 199,999); Redis 403 bytes per user (used_memory "
        "delta / 99,000 users), profile key 288 bytes (MEMORY USAGE); naive hash per user 1,024 "
        "bytes",
        "detector's own stage timers, ms per 1,000 tx: decode 1.3, score 10.0 (wall time per "
        "1,000 tx 32.0; the rest is Kafka consume/produce/commit and the Redis write)",
    ]


def test_latency_rows_show_every_percentile_and_a_dash_for_what_was_not_measured() -> None:
    row = {
        "rate": 5_000,
        "guarantee": "exactly-once",
        "achieved_rate": 4_999.6,
        "measured": 50_000,
        "p50_ms": 12.34,
        "p90_ms": 20.0,
        "p99_ms": 45.67,
        "p999_ms": None,
        "max_ms": 80.0,
        "max_lag": 1_234,
        "detector_cpu_share": 0.456,
    }
    lines = render(latency=[row])
    assert headers(lines) == [
        [
            "rate/s",
            "guarantee",
            "achieved/s",
            "measured",
            "p50 ms",
            "p90 ms",
            "p99 ms",
            "p99.9 ms",
            "max ms",
            "max lag",
            "detector CPU",
        ]
    ]
    assert rows(lines) == [
        [
            "5,000",
            "exactly-once",
            "5,000",
            "50,000",
            "12.3",
            "20.0",
            "45.7",
            "-",
            "80.0",
            "1,234",
            "46%",
        ]
    ]


def test_a_skipped_scaling_point_says_why_once() -> None:
    reason = "its state needs about 668 MiB but Redis has 100 MiB free under maxmemory"
    lines = render(
        scaling=[
            {
                "users": 10_000,
                "workers": 1,
                "tps": 30_000.0,
                "cpu_s_per_1k": 0.03,
                "users_with_state": 10_000,
                "redis_bytes_per_user": 400.0,
                "profile_key_bytes": 288.0,
            },
            {"users": 1_000_000, "workers": 1, "skipped": reason},
            {"users": 1_000_000, "workers": 2, "skipped": reason},
        ]
    )
    assert rows(lines) == [
        ["10,000", "1", "30,000", "0.030", "10,000", "400", "288"],
        ["1,000,000", "1", "skipped", "", "", "", ""],
        ["1,000,000", "2", "skipped", "", "", "", ""],
    ]
    assert prose(lines)[-1] == f"1,000,000 users: {reason}"
    assert sum(reason in line for line in lines) == 1


def test_targets_say_yes_no_or_dash() -> None:
    targets = [
        {"target": "ours >= 30,000 tx/s (exactly-once)", "measured": 31_234.567, "met": True},
        {"target": "p99 < 50 ms at 5,000/s (exactly-once)", "measured": None, "met": None},
        {"target": "ours >= 10x naive", "measured": 8.0, "met": False},
    ]
    lines = render(targets=targets)
    assert headers(lines) == [["target", "measured", "met"]]
    assert rows(lines) == [
        ["ours >= 30,000 tx/s (exactly-once)", "31,234.57", "yes"],
        ["p99 < 50 ms at 5,000/s (exactly-once)", "-", "-"],
        ["ours >= 10x naive", "8.00", "no"],
    ]


def test_an_empty_target_list_prints_no_table() -> None:
    assert render(targets=[]) == render()
