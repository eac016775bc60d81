"""Drift scenarios switch at the configured time, and the run records where."""

from __future__ import annotations

import numpy as np
import pytest

from stream_sentinel.errors import UsageError
from stream_sentinel.generator import (
    SCENARIOS,
    SimulationConfig,
    Simulator,
    TransactionBatch,
    catalog,
)

START = 1_700_000_000_000
DAY_MS = 86_400_000


def _run(
    scenario: str, switch_ms: int | None, count: int = 160_000
) -> tuple[Simulator, TransactionBatch]:
    config = SimulationConfig(
        users=2_000, fraud_rate=0.02, scenario=scenario, start_ms=START, switch_at_ms=switch_ms
    )
    simulator = Simulator(config, seed=9)
    return simulator, simulator.next_batch(count)


def test_scenarios_include_the_four_documented_ones() -> None:
    assert {"baseline", "new-pattern", "spending-shift", "merchant-wave"} <= set(SCENARIOS)


def test_new_pattern_appears_only_after_the_switch() -> None:
    switch = START + 5 * DAY_MS
    simulator, batch = _run("new-pattern", switch)
    takeover = batch.timestamp[batch.pattern == catalog.ACCOUNT_TAKEOVER]
    assert len(takeover) > 100
    assert takeover.min() >= switch
    assert simulator.drift.switch_ms == switch
    first = simulator.drift.first_seq_after
    assert first is not None
    assert batch.timestamp[first] >= switch > batch.timestamp[first - 1]


def test_spending_shift_raises_legitimate_amounts_after_the_switch() -> None:
    switch = START + 5 * DAY_MS
    _, batch = _run("spending-shift", switch)
    legit = batch.take(~batch.is_fraud)
    before = np.median(legit.amount[legit.timestamp < switch])
    after = np.median(legit.amount[legit.timestamp >= switch])
    assert 1.3 < after / before < 1.6


def test_merchant_wave_multiplies_compromised_merchant_fraud_after_the_switch() -> None:
    switch = START + 5 * DAY_MS
    _, batch = _run("merchant-wave", switch)
    fraud = batch.take(batch.is_fraud)
    share = lambda part: np.mean(part.pattern == catalog.COMPROMISED_MERCHANT)  # noqa: E731
    assert share(fraud.take(fraud.timestamp < switch)) < 0.25
    assert share(fraud.take(fraud.timestamp >= switch + DAY_MS)) > 0.4


def test_baseline_has_no_switch_even_when_given_one() -> None:
    simulator, batch = _run("baseline", START + DAY_MS, count=20_000)
    assert simulator.drift.switch_ms is None
    assert simulator.drift.first_seq_after is None
    assert len(batch) == 20_000


def test_unknown_scenario_names_the_known_ones() -> None:
    with pytest.raises(UsageError) as error:
        Simulator(SimulationConfig(scenario="holiday"), seed=1)
    assert str(error.value) == (
        "unknown scenario 'holiday': choose one of baseline, new-pattern, spending-shift, "
        "merchant-wave (see --list-scenarios)"
    )
