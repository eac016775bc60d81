"""An experiment's standing from its counters: split and shadow designs, guard rails first."""

from __future__ import annotations

import pytest

from stream_sentinel.logic.experiments.definition import Experiment
from stream_sentinel.logic.experiments.guardrails import Limits
from stream_sentinel.logic.experiments.rule import Rule
from stream_sentinel.logic.experiments.sequential import evidence, two_sample
from stream_sentinel.logic.experiments.standing import standing

pytestmark = pytest.mark.unit

T0 = 1_700_000_000_000
DAY = 86_400_000
SPLIT = Experiment.new("exp-s", "split", "champ", "chall", 0.1, T0, "ana", "")


def test_a_split_compares_the_two_arms_own_frauds() -> None:
    counts = {
        "0:frauds": 900,
        "0:caught": 630,
        "1:frauds": 100,
        "1:caught": 75,
        "0:rows": 90_000,
        "1:rows": 10_000,
        "0:alerts": 1_800,
        "1:alerts": 210,
    }
    found = standing(SPLIT, counts, Rule(), Limits(), T0 + 10 * DAY)
    want = evidence(two_sample(630, 900, 75, 100), 0.05, 0.05)
    assert found.evidence == want
    assert [r.recall for r in found.recall] == [0.7, 0.75]
    assert (found.outcome.action, found.outcome.reason) == ("continue", "collecting labels")
    assert found.projected_labels is not None and found.projected_labels > 1_000


def test_a_breached_guard_rail_stops_before_any_verdict() -> None:
    counts = {"0:rows": 90_000, "1:rows": 10_000, "0:declines": 900, "1:declines": 400}
    found = standing(SPLIT, counts, Rule(), Limits(), T0 + DAY)
    assert found.outcome.action == "stop"
    assert found.outcome.reason == (
        "guard rail: decline rate 4.00% vs 1.00% on the champion: 4.00x, above the limit 2.00x"
    )


def test_an_experiment_past_its_days_stops_with_the_champion() -> None:
    found = standing(SPLIT, {}, Rule(max_days=30), Limits(), T0 + 31 * DAY)
    assert (found.outcome.action, found.outcome.reason) == (
        "stop",
        "no decision after 31 days: champion stays",
    )
