"""The benchmark's figures from what the reader saw: windows, rates, CPU per 1,000, batches,
the FraudScore shortcut, and the options that size a run."""

from __future__ import annotations

from array import array

import pytest

from stream_sentinel.bench.drive import Measured
from stream_sentinel.bench.measures import batch_figures, common_figures, stage_figures
from stream_sentinel.bench.options import BenchOptions, parse_int_list
from stream_sentinel.bench.reader import Visibility, score_head
from stream_sentinel.bench.redismem import MemoryFigures
from stream_sentinel.domain import Decision, FraudScore, RiskLevel
from stream_sentinel.errors import UsageError
from stream_sentinel.registry_server.local_client import LocalRegistryClient
from stream_sentinel.wire import records
from stream_sentinel.wire.serde import Serde

pytestmark = pytest.mark.unit


def visibility(fetches: list[tuple[float, int]], ids: set[bytes] | None = None) -> Visibility:
    """What a reader saw: (wall time, outputs seen by then) per fetch."""
    return Visibility(
        fetch_times=array("d", [at for at, _ in fetches]),
        fetch_totals=array("q", [total for _, total in fetches]),
        transaction_ids=ids or set(),
        total=fetches[-1][1] if fetches else 0,
    )


STEADY = Measured(
    name="detector",
    seen=visibility([(10.0, 100), (11.0, 300), (12.5, 600)], {b"tx-1", b"tx-2"}),
    window_start=10.0,
    window_end=12.5,
    window_outputs=500,  # the first fetch's 100 were done before the window opened
    cpu={"detector": 2.0, "kafka": 0.5},
    started=8.0,
)
ONE_FETCH = Measured(
    name="naive",
    seen=visibility([(12.0, 600)]),
    window_start=12.0,
    window_end=12.0,
    window_outputs=0,
    cpu={"naive": 3.0},
    started=8.0,
)


def test_outputs_seen_by_a_moment_are_those_of_the_fetches_until_then() -> None:
    seen = STEADY.seen
    assert [seen.seen_by(t) for t in (9.9, 10.0, 11.5, 12.5, 99.0)] == [0, 100, 300, 600, 600]
    assert (seen.first_s, seen.last_s) == (10.0, 12.5)
    assert (Visibility().first_s, Visibility().last_s, Visibility().seen_by(1.0)) == (None, None, 0)


def test_a_steady_window_gives_the_rate_and_cpu_per_thousand_outputs() -> None:
    assert (STEADY.window_s, STEADY.tps, STEADY.basis, STEADY.wall_s) == (2.5, 200.0, "window", 4.5)
    assert STEADY.cpu_per_1k("detector") == 4.0  # 2 s over 500 outputs
    assert STEADY.cpu_per_1k("kafka") == 1.0
    assert STEADY.cpu_per_1k("redis") is None  # not sampled


def test_without_a_window_the_rate_is_over_the_whole_run() -> None:
    assert (ONE_FETCH.window_s, ONE_FETCH.tps, ONE_FETCH.basis) == (0.0, 150.0, "wall")
    assert ONE_FETCH.cpu_per_1k("naive") == 5.0  # 3 s over all 600 outputs


def test_common_figures_are_rounded_and_name_every_cpu_group() -> None:
    assert common_figures(STEADY, "detector") == {
        "tps": 200.0,
        "tps_basis": "window",
        "outputs": 600,
        "window_outputs": 500,
        "window_s": 2.5,
        "wall_s": 4.5,
        "cpu_s_per_1k": 4.0,
        "cpu_s": {"detector": 2.0, "kafka": 0.5},
        "kafka_cpu_s_per_1k": 1.0,
        "redis_cpu_s_per_1k": None,
        "bench_reader_cpu_s_per_1k": None,
        "distinct_decisions": 2,
    }
    assert "distinct_decisions" not in common_figures(ONE_FETCH, "naive")  # outputs not parsed


def test_batch_figures_add_up_over_the_workers() -> None:
    summaries = [
        {
            "records": 1_000,
            "batches": 3,
            "max_batch": 500,
            "batch_size_buckets": {"100.0": 1.0, "+Inf": 3.0},
        },
        {
            "records": 500,
            "batches": 2,
            "max_batch": 300,
            "batch_size_buckets": {"100.0": 1.0, "+Inf": 2.0},
        },
    ]
    assert batch_figures(summaries) == {
        "records": 1_500,
        "batches": 5,
        "mean_batch": 300.0,
        "max_batch": 500,
        "histogram_le": {"100.0": 2.0, "+Inf": 5.0},
    }
    assert batch_figures([]) == {"records": 0, "batches": 0, "mean_batch": None, "max_batch": 0}


def test_stage_figures_are_milliseconds_per_thousand_outputs() -> None:
    summaries = [
        {"stage_seconds": {"decode": 0.5, "score": 1.0}},
        {"stage_seconds": {"decode": 0.25}},
    ]
    assert stage_figures(summaries, 250_000) == {"decode": 3.0, "score": 4.0}
    assert stage_figures(summaries, 0) == {}


@pytest.mark.parametrize("merchant_id", [None, "m-0042"])
def test_the_fraud_score_shortcut_reads_what_the_serde_wrote(merchant_id: str | None) -> None:
    score = FraudScore(
        transaction_id="tx-ü-1",
        user_id="u0000042",
        merchant_id=merchant_id,
        amount=12.5,
        event_time=1_767_225_600_000,
        produced_time=1_767_225_600_123,
        decided_time=1_767_225_600_150,
        score=0.42,
        risk_level=RiskLevel.MEDIUM,
        decision=Decision.REVIEW,
        model_version=None,
    )
    value = Serde(LocalRegistryClient.in_memory()).encoder("fraud-scores")(records.to_dict(score))
    assert score_head(value) == ("tx-ü-1".encode(), 1_767_225_600_123)


def test_rate_lists_take_thousands_and_millions() -> None:
    assert parse_int_list("1000, 5_000,20k,1.5M", "--rates") == (1_000, 5_000, 20_000, 1_500_000)
    with pytest.raises(UsageError, match=r"--rates '1000,fast': give whole numbers"):
        parse_int_list("1000,fast", "--rates")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (BenchOptions(rates=()), "--rates needs at least one rate"),
        (BenchOptions(scaling_workers=(1, 13)), "--workers must be between 1 and 12 (got 13)"),
        (BenchOptions(count=0), "--count must be between 1 and 50,000,000 (got 0)"),
        (BenchOptions(duration_s=0), "--duration must be between 0 and 3600 s (got 0)"),
        (BenchOptions(guarantee="maybe-once"), "--guarantee must be one of exactly-once, "),
    ],
)
def test_options_name_the_flag_that_cannot_be_used(options: BenchOptions, message: str) -> None:
    with pytest.raises(UsageError) as refused:
        options.validate()
    assert str(refused.value).startswith(message)


def test_the_guarantees_measured() -> None:
    assert BenchOptions().validate().throughput_guarantee == "exactly-once"
    assert BenchOptions().latency_guarantees == ("at-least-once", "exactly-once")
    only = BenchOptions(guarantee="at-least-once")
    assert (only.throughput_guarantee, only.latency_guarantees) == (
        "at-least-once",
        ("at-least-once",),
    )


def test_redis_bytes_per_user_is_the_used_memory_delta_over_the_users() -> None:
    figures = MemoryFigures(users=3, used_memory_delta=1_000, sampled_keys=3, key_bytes_mean=288.0)
    assert figures.as_dict() == {
        "users_with_state": 3,
        "used_memory_delta": 1_000,
        "redis_bytes_per_user": 333.3,
        "profile_key_bytes": 288.0,
        "profile_keys_sampled": 3,
    }
    assert MemoryFigures(0, 1_000, 0, None).bytes_per_user is None
