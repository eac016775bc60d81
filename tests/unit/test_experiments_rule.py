"""The pure half of experiments: the user split, the mixture SPRT, guard rails, the rule."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest
from scipy import integrate, stats

from stream_sentinel.logic.experiments.guardrails import ArmTraffic, Limits, breaches
from stream_sentinel.logic.experiments.rule import Rule, decide
from stream_sentinel.logic.experiments.sequential import (
    MIN_UNIT_VARIANCE,
    Estimate,
    evidence,
    half_width,
    log_ratio,
    paired,
    projected_labels,
    two_sample,
)
from stream_sentinel.logic.experiments.split import arm_of, arms_of, check_shares

pytestmark = pytest.mark.unit

USERS = [f"user-{i}" for i in range(50_000)]


# -- the split ---------------------------------------------------------------------------------


def test_the_split_gives_each_arm_its_share_within_sampling_error() -> None:
    arms = arms_of("exp-7", USERS, (0.9, 0.1))
    share, sigma = 0.1, math.sqrt(0.1 * 0.9 / len(USERS))
    assert abs(arms.mean() - share) < 4 * sigma
    three = arms_of("exp-7", USERS, (0.5, 0.3, 0.2))
    assert set(np.unique(three)) == {0, 1, 2}
    for arm, want in enumerate((0.5, 0.3, 0.2)):
        assert abs((three == arm).mean() - want) < 4 * math.sqrt(want * (1 - want) / len(USERS))


def test_one_user_is_in_the_same_arm_in_every_call_and_in_another_process() -> None:
    here = [arm_of("exp-7", u, (0.9, 0.1)) for u in USERS[:200]]
    assert here == list(arms_of("exp-7", USERS[:200], (0.9, 0.1)))
    code = (
        "from stream_sentinel.logic.experiments.split import arms_of;"
        f"print(''.join(map(str, arms_of('exp-7', {USERS[:200]!r}, (0.9, 0.1)))))"
    )
    other = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert other == "".join(map(str, here))


def test_two_experiments_split_users_independently() -> None:
    first = arms_of("exp-a", USERS, (0.9, 0.1)) == 1
    second = arms_of("exp-b", USERS, (0.9, 0.1)) == 1
    both = (first & second).mean()  # independent: 0.1 * 0.1 of the users
    assert abs(both - 0.01) < 4 * math.sqrt(0.01 * 0.99 / len(USERS))


@pytest.mark.parametrize(
    ("shares", "message"),
    [
        ((1.0,), "an experiment needs at least two arms, got shares [1.0]"),
        ((0.9, 0.2), "the shares must add up to 1, got [0.9, 0.2] (sum 1.1)"),
        ((1.0, 0.0), "every share must be between 0 and 1 (exclusive), got [1.0, 0.0]"),
    ],
)
def test_bad_shares_are_refused_saying_why(shares: tuple[float, ...], message: str) -> None:
    with pytest.raises(ValueError) as raised:
        check_shares(shares)
    assert str(raised.value) == message


# -- the mixture SPRT ------------------------------------------------------------------------


def test_paired_and_two_sample_estimates_match_their_definitions() -> None:
    diffs = np.array([1, 0, 0, -1, 1, 1, 0, 0, 1, 0], dtype=float)
    found = paired(len(diffs), diffs.sum(), (diffs**2).sum())
    assert (found.labels, found.value) == (10, 0.3)
    assert found.variance == pytest.approx(diffs.var(ddof=1) / 10)
    assert paired(10, 0.0, 0.0).variance == MIN_UNIT_VARIANCE / 10  # all equal: floored
    assert paired(1, 1.0, 1.0).variance == math.inf
    split = two_sample(caught_a=60, frauds_a=100, caught_b=35, frauds_b=50)
    pa, pb = 60.5 / 101, 35.5 / 51
    assert (split.labels, split.value) == (150, pytest.approx(0.1))
    assert split.variance == pytest.approx(pa * (1 - pa) / 100 + pb * (1 - pb) / 50)
    assert two_sample(0, 0, 3, 5).variance == math.inf


@pytest.mark.parametrize(("value", "variance", "tau"), [(0.1, 4e-4, 0.05), (-0.03, 1e-3, 0.1)])
def test_the_log_ratio_is_the_normal_mixture_integrated(
    value: float, variance: float, tau: float
) -> None:
    sd = math.sqrt(variance)
    mixed, _ = integrate.quad(
        lambda t: stats.norm.pdf(value, t, sd) * stats.norm.pdf(t, 0, tau), -1, 1, points=[value]
    )
    expected = math.log(mixed / stats.norm.pdf(value, 0, sd))
    assert float(log_ratio(np.array(value), np.array(variance), tau)) == pytest.approx(expected)


def test_the_interval_ends_are_where_the_ratio_meets_its_threshold() -> None:
    for value, verdict in ((0.08, "better"), (0.03, "undecided")):
        found = evidence(Estimate(labels=800, value=value, variance=3e-4), tau=0.05, alpha=0.05)
        low, high = found.interval
        assert high - value == pytest.approx(value - low) == half_width(3e-4, 0.05, 0.05)
        for end in (low, high):
            shifted = np.array(value - end)
            assert float(log_ratio(shifted, np.array(3e-4), 0.05)) == pytest.approx(math.log(20))
        assert (found.verdict, low > 0) == (verdict, verdict == "better")


def test_the_verdict_follows_the_sign_and_stays_undecided_near_zero() -> None:
    assert evidence(Estimate(900, -0.06, 2e-4), 0.05, 0.05).verdict == "worse"
    assert evidence(Estimate(900, 0.01, 2e-4), 0.05, 0.05).verdict == "undecided"
    undecided = evidence(Estimate(1, 0.0, math.inf), 0.05, 0.05)
    assert (undecided.verdict, undecided.interval) == ("undecided", (-math.inf, math.inf))


def test_projected_labels_is_the_first_count_that_crosses() -> None:
    estimate = Estimate(labels=200, value=0.05, variance=0.2 / 200)
    n = projected_labels(estimate, tau=0.05, alpha=0.05, limit=20_000)
    assert n is not None and n > 200

    def crosses(count: int) -> bool:
        score = log_ratio(np.array(0.05), np.array(0.2 / count), 0.05)
        return bool(score >= math.log(20))

    assert (crosses(n), crosses(n - 1)) == (True, False)
    assert projected_labels(Estimate(200, 0.0, 1e-3), 0.05, 0.05, 20_000) is None
    assert projected_labels(estimate, 0.05, 0.05, limit=n - 1) is None


# -- guard rails and the rule ----------------------------------------------------------------


def test_guard_rails_wait_for_enough_rows_then_name_each_breach() -> None:
    champion = ArmTraffic(rows=5_000, alerts=100, declines=20, scoring_us=20_000.0)
    bad = ArmTraffic(rows=1_999, alerts=1_000, declines=500, scoring_us=1e6)
    assert breaches(champion, bad, Limits()) == []
    bad = ArmTraffic(rows=5_000, alerts=150, declines=100, scoring_us=70_000.0)
    assert [b.message() for b in breaches(champion, bad, Limits())] == [
        "decline rate 2.00% vs 0.40% on the champion: 5.00x, above the limit 2.00x",
        "latency 14.0 us/row vs 4.0 us/row on the champion: 3.50x, above the limit 3.00x",
    ]
    fine = ArmTraffic(rows=5_000, alerts=190, declines=30, scoring_us=30_000.0)
    assert breaches(champion, fine, Limits()) == []
    # a champion with no decline yet counts as one; nine declines are too few to stop on
    calm = ArmTraffic(rows=5_000, alerts=0, declines=0, scoring_us=20_000.0)
    assert breaches(calm, ArmTraffic(5_000, 9, 9, 20_000.0), Limits()) == []
    [few] = breaches(calm, ArmTraffic(5_000, 0, 10, 20_000.0), Limits())
    assert (few.rail, few.ratio) == ("decline_rate", 10.0)


def test_the_rule_stops_promotes_retires_or_waits() -> None:
    rule = Rule(min_labels=100, max_labels=5_000, max_days=30)
    better = evidence(Estimate(900, 0.08, 2e-4), 0.05, 0.05)
    worse = evidence(Estimate(900, -0.08, 2e-4), 0.05, 0.05)
    unsure = evidence(Estimate(5_000, 0.0, 2e-4), 0.05, 0.05)
    breach = breaches(
        ArmTraffic(5_000, 100, 10), ArmTraffic(5_000, 400, 10), Limits(min_rows=1_000)
    )
    assert decide(better, rule, (450, 450), breach, 3.0).action == "stop"
    assert decide(better, rule, (450, 450), breach, 3.0).reason.startswith("guard rail: alert")
    assert decide(better, rule, (450, 450), [], 3.0).action == "promote"
    assert decide(better, rule, (850, 50), [], 3.0).action == "continue"  # an arm too small
    assert decide(worse, rule, (450, 450), [], 3.0).reason.startswith("challenger worse: recall")
    assert decide(unsure, rule, (2_500, 2_500), [], 3.0).reason == (
        "no decision after 5000 labels: champion stays"
    )
    early = evidence(Estimate(300, 0.0, 1e-3), 0.05, 0.05)
    assert decide(early, rule, (150, 150), [], 31.0).reason == (
        "no decision after 31 days: champion stays"
    )
