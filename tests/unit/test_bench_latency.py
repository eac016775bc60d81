"""The latency mode's arithmetic: which transactions count, and the percentiles reported."""

from __future__ import annotations

from array import array

import numpy as np
import pytest

from stream_sentinel.bench.drive import Measured
from stream_sentinel.bench.latency import latencies, percentiles
from stream_sentinel.bench.reader import Visibility

pytestmark = pytest.mark.unit


def measured(produced_ms: list[int], seen_ms: list[float]) -> Measured:
    seen = Visibility(
        produced_ms=array("q", produced_ms), seen_ms=array("d", seen_ms), total=len(produced_ms)
    )
    return Measured("detector", seen, 0.0, 0.0, 0, {}, 0.0)


def test_percentiles_interpolate_between_ranks_and_round_to_hundredths() -> None:
    assert percentiles(np.arange(1.0, 101.0)) == {
        "p50_ms": 50.5,
        "p90_ms": 90.1,
        "p99_ms": 99.01,
        "p999_ms": 99.9,  # 99.901, rounded
        "mean_ms": 50.5,
        "max_ms": 100.0,
    }


def test_one_measurement_is_every_percentile() -> None:
    assert set(percentiles(np.array([7.125])).values()) == {7.12}  # round half to even


def test_nothing_measured_is_none_everywhere_not_zero() -> None:
    assert percentiles(np.empty(0)) == dict.fromkeys(
        ("p50_ms", "p90_ms", "p99_ms", "p999_ms", "mean_ms", "max_ms")
    )


def test_the_probe_and_the_warmup_are_left_out() -> None:
    run = measured(
        produced_ms=[100, 200, 1_000, 1_500, 2_000, 3_500],  # two probes, then the load
        seen_ms=[150.0, 260.0, 1_010.0, 1_520.0, 2_050.0, 3_600.0],
    )
    # ready at 500 ms: the load starts at 1,000 ms, so a 1 s warm-up keeps 2,000 ms and later
    assert latencies(run, ready_ms=500.0, warmup_s=1.0).tolist() == [50.0, 100.0]
    assert latencies(run, ready_ms=500.0, warmup_s=0.0).tolist() == [10.0, 20.0, 50.0, 100.0]


def test_a_run_with_only_the_probe_measures_nothing() -> None:
    run = measured(produced_ms=[100, 200], seen_ms=[150.0, 260.0])
    assert latencies(run, ready_ms=500.0, warmup_s=0.0).tolist() == []
