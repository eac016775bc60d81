"""Rate control and time planning, on simulated (ManualClock) time: no wall-clock waiting."""

from __future__ import annotations

from pathlib import Path

import pytest

from stream_sentinel.clock import ManualClock
from stream_sentinel.errors import UsageError
from stream_sentinel.generator import SimulationConfig, Simulator
from stream_sentinel.generator.batch import TransactionBatch
from stream_sentinel.generator.run import GenerationRun, RunLimits
from stream_sentinel.generator.sinks import ListSink
from stream_sentinel.generator.timing import SwitchAt, TokenBucket, plan_time

NOW = 1_790_000_000_000


def _run(rate: float, limits: RunLimits, clock: ManualClock) -> tuple[int, ListSink]:
    simulator = Simulator(SimulationConfig(users=1_000), seed=2)
    sink = ListSink()
    bucket = TokenBucket(rate, burst=max(rate / 10, 1), clock=clock)
    outcome = GenerationRun(simulator, sink, bucket, clock, clock.advance, limits).run()
    return outcome.sent, sink


@pytest.mark.parametrize("rate", [50, 5_000, 40_000])
def test_rate_is_held_over_simulated_time(rate: int) -> None:
    clock = ManualClock(NOW)
    sent, sink = _run(rate, RunLimits(duration_s=10), clock)
    assert abs(sent - rate * 10) <= 0.02 * rate * 10
    assert clock.monotonic() == pytest.approx(10.0, abs=0.06)
    assert sink.closed


def test_rate_zero_means_as_fast_as_possible() -> None:
    clock = ManualClock(NOW)
    sent, sink = _run(0, RunLimits(count=50_000), clock)
    assert sent == 50_000
    assert clock.monotonic() == 0.0  # never waited
    assert sum(len(b) for b in sink.batches) == 50_000


def test_batches_are_sized_for_smooth_pacing() -> None:
    clock = ManualClock(NOW)
    _, sink = _run(5_000, RunLimits(duration_s=2), clock)
    assert max(len(b) for b in sink.batches) == 250  # 50 ms worth


class _SlowSink(ListSink):
    """Sending a batch takes 5 ms of (simulated) wall time, as a real producer does."""

    def __init__(self, clock: ManualClock) -> None:
        super().__init__()
        self.clock = clock

    def write(self, batch: TransactionBatch) -> None:
        self.clock.advance(0.005)
        super().write(batch)


def test_a_paced_run_sends_whole_batches_even_when_sending_takes_time() -> None:
    clock = ManualClock(NOW)
    simulator = Simulator(SimulationConfig(users=1_000), seed=2)
    sink = _SlowSink(clock)
    bucket = TokenBucket(5_000, burst=500, clock=clock)
    GenerationRun(simulator, sink, bucket, clock, clock.advance, RunLimits(duration_s=2)).run()
    sizes = [len(b) for b in sink.batches]
    # 20 batches a second of 250: never the 25-record crumbs that accrue while one is sent
    assert set(sizes) == {250}
    assert len(sizes) == 39  # at 0.05, 0.10, ... 1.95 s (the bucket starts empty)


def test_token_bucket_grants_nothing_below_the_minimum_asked_for() -> None:
    clock = ManualClock(NOW)
    bucket = TokenBucket(1_000, burst=100, clock=clock)
    clock.advance(0.03)
    assert bucket.take(50, at_least=50) == 0  # 30 accrued: not enough, and none are spent
    clock.advance(0.02)
    assert bucket.take(50, at_least=50) == 50
    clock.advance(10)
    assert bucket.take(1_000, at_least=1_000) == 100  # the minimum is capped by the burst


@pytest.mark.parametrize(("rate", "burst", "batch"), [(10.5, 10.5, 20), (1e6, 1e6, 16_384)])
def test_a_paced_run_never_spins_on_a_fractional_burst_or_a_tiny_wait(
    rate: float, burst: float, batch: int
) -> None:
    clock = ManualClock(NOW)
    clock.advance(1e6)  # a large monotonic value: 1e-12 s steps would not move it
    bucket = TokenBucket(rate, burst=burst, clock=clock)
    grants: list[int] = []
    steps = 0
    while len(grants) < 3 and steps < 10_000:
        got = bucket.take(batch, at_least=batch)
        if got:
            grants.append(got)
        else:
            clock.advance(bucket.wait_s(batch))
        steps += 1
    whole = min(batch, int(burst))  # a batch larger than the bucket gets a full bucket
    assert grants == [whole] * 3
    assert steps <= 8  # a wait, a grant, a wait, a grant ... (a little float slack)


def test_token_bucket_grants_what_has_accrued_and_no_more() -> None:
    clock = ManualClock(NOW)
    bucket = TokenBucket(1_000, burst=100, clock=clock)
    assert bucket.take(10) == 0
    assert bucket.wait_s(50) == pytest.approx(0.05)
    clock.advance(0.05)
    assert bucket.take(80) == 50
    clock.advance(10)
    assert bucket.take(1_000) == 100  # capped by the burst


def test_negative_rate_is_refused() -> None:
    with pytest.raises(UsageError):
        TokenBucket(-1, 1, ManualClock())


def test_auto_time_scale_gives_a_few_transactions_per_user_day() -> None:
    plan = plan_time(
        users=10_000,
        rate=5_000,
        count=None,
        duration_s=30,
        time_scale=None,
        end_ms=NOW,
        switch_at=SwitchAt(fraction=0.5),
    )
    assert plan.tx_per_user_day == 4.0
    assert plan.time_scale == pytest.approx(10_800)  # 3 simulated hours per second
    assert plan.end_ms == NOW
    assert plan.start_ms < NOW - 30 * 10_800 * 1000
    assert plan.switch_ms == plan.start_ms + 15 * 10_800 * 1000


def test_explicit_time_scale_sets_how_active_users_are() -> None:
    plan = plan_time(
        users=1_000,
        rate=100,
        count=None,
        duration_s=60,
        time_scale=3_600,
        end_ms=NOW,
        switch_at=None,
    )
    assert plan.tx_per_user_day == pytest.approx(100 * 86_400 / (1_000 * 3_600))
    assert plan.switch_ms is None


def test_time_scale_without_a_rate_is_refused() -> None:
    with pytest.raises(UsageError, match="--time-scale needs a --rate above 0"):
        plan_time(
            users=10, rate=0, count=10, duration_s=None, time_scale=60, end_ms=NOW, switch_at=None
        )


def test_a_counted_run_ends_in_the_past(tmp_path: Path) -> None:
    plan = plan_time(
        users=500,
        rate=0,
        count=100_000,
        duration_s=None,
        time_scale=None,
        end_ms=NOW,
        switch_at=SwitchAt(offset_s=86_400),
    )
    config = SimulationConfig(users=500, start_ms=plan.start_ms, end_ms=plan.end_ms)
    simulator = Simulator(config, seed=1)
    batch = simulator.next_batch(100_000)
    assert len(batch) == 100_000
    assert batch.timestamp[-1] <= NOW
    assert batch.timestamp[0] >= plan.start_ms
    assert plan.switch_ms == plan.start_ms + 86_400_000


def test_the_simulated_period_end_is_a_hard_limit() -> None:
    config = SimulationConfig(users=500, start_ms=NOW - 3_600_000, end_ms=NOW)
    simulator = Simulator(config, seed=1)
    batch = simulator.next_batch(1_000_000)
    assert 0 < len(batch) < 1_000_000
    assert batch.timestamp.max() <= NOW
    assert simulator.finished
    assert len(simulator.next_batch(10)) == 0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0.25", SwitchAt(fraction=0.25)),
        ("40%", SwitchAt(fraction=0.4)),
        ("2d", SwitchAt(offset_s=172_800)),
        ("90m", SwitchAt(offset_s=5_400)),
    ],
)
def test_switch_at_reads_fractions_and_durations(text: str, expected: SwitchAt) -> None:
    assert SwitchAt.parse(text) == expected
