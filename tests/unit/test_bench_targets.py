"""The benchmark's targets, checked against a run's figures, and the detector's own timings."""

from __future__ import annotations

from typing import Any

import pytest

from stream_sentinel.bench.targets import stage_totals
from stream_sentinel.bench.targets_check import check_targets
from stream_sentinel.detector.metrics import DetectorMetrics

pytestmark = pytest.mark.unit


def throughput(guarantee: str, tps: float | None, vs_naive: float, per_user: float) -> Any:
    return {
        "guarantee": guarantee,
        "ours_tps": tps,
        "ours_vs_naive": vs_naive,
        "redis_bytes_per_user": per_user,
    }


def latency(rate: int, guarantee: str, p99_ms: float | None) -> dict[str, Any]:
    return {"rate": rate, "guarantee": guarantee, "p99_ms": p99_ms}


def test_exactly_once_throughput_is_held_to_all_three_targets() -> None:
    document = {"throughput": throughput("exactly-once", 31_000.0, 9.5, 512.0)}
    assert check_targets(document) == [
        {"target": "ours >= 30,000 tx/s (exactly-once)", "measured": 31_000.0, "met": True},
        {"target": "ours >= 10x naive", "measured": 9.5, "met": False},
        {"target": "<= 512 bytes of Redis per user", "measured": 512.0, "met": True},
    ]


def test_the_limits_are_inclusive_where_the_targets_say_so() -> None:
    document = {"throughput": throughput("exactly-once", 30_000.0, 10.0, 512.5)}
    assert [t["met"] for t in check_targets(document)] == [True, True, False]


def test_at_least_once_throughput_has_no_absolute_rate_target() -> None:
    document = {"throughput": throughput("at-least-once", 50_000.0, 12.0, 100.0)}
    assert [t["target"] for t in check_targets(document)] == [
        "ours >= 10x naive",
        "<= 512 bytes of Redis per user",
    ]


def test_a_figure_not_measured_is_neither_met_nor_missed() -> None:
    document = {"throughput": throughput("exactly-once", None, 10.0, 100.0)}
    assert check_targets(document)[0] == {
        "target": "ours >= 30,000 tx/s (exactly-once)",
        "measured": None,
        "met": None,
    }


def test_p99_is_checked_at_5000_per_second_only_and_strictly_below_its_limit() -> None:
    document = {
        "latency": [
            latency(1_000, "at-least-once", 99.0),  # another rate: no target
            latency(5_000, "at-least-once", 10.0),  # the limit itself is a miss
            latency(5_000, "exactly-once", 49.99),
            latency(5_000, "exactly-once", None),
            latency(5_000, "best-effort", 1.0),  # no limit for this guarantee
        ]
    }
    assert check_targets(document) == [
        {"target": "p99 < 10 ms at 5,000/s (at-least-once)", "measured": 10.0, "met": False},
        {"target": "p99 < 50 ms at 5,000/s (exactly-once)", "measured": 49.99, "met": True},
        {"target": "p99 < 50 ms at 5,000/s (exactly-once)", "measured": None, "met": None},
    ]


def test_a_run_of_other_modes_has_no_targets() -> None:
    assert check_targets({"scaling": [{"users": 10, "workers": 1}]}) == []
    assert check_targets({"throughput": None, "latency": []}) == []


def test_stage_totals_are_the_detectors_own_seconds_and_batch_histogram() -> None:
    metrics = DetectorMetrics()
    metrics.stage.labels("decode").observe(0.25)
    metrics.stage.labels("decode").observe(0.125)
    metrics.stage.labels("score").observe(0.00004)  # rounded to 0.1 ms
    for size in (5, 80, 3_000):
        metrics.batch_size.observe(size)
    totals = stage_totals(metrics.registry)
    assert totals["stage_seconds"] == {"decode": 0.375, "score": 0.0}
    assert totals["batch_size_buckets"] == {
        "1.0": 0.0,
        "10.0": 1.0,
        "50.0": 1.0,
        "100.0": 2.0,
        "250.0": 2.0,
        "500.0": 2.0,
        "1000.0": 2.0,
        "2500.0": 2.0,
        "5000.0": 3.0,
        "10000.0": 3.0,
        "+Inf": 3.0,
    }  # cumulative: batches of at most `le` records
