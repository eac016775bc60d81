"""The decision rule on simulated experiments of known truth, and `experiments simulate`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from scipy import stats

from stream_sentinel.cli import cli
from stream_sentinel.logic.experiments.rule import Rule
from stream_sentinel.logic.experiments.sequential import paired, two_sample
from stream_sentinel.logic.experiments.simulate import (
    Design,
    _shadow_paths,
    _split_paths,
    clopper_pearson,
    run_truth,
)

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("design", [Design("shadow"), Design("split", share=0.5)])
def test_read_after_every_label_the_rule_stops_an_equal_challenger_at_most_alpha(
    design: Design,
) -> None:
    rule = Rule(alpha=0.05, max_labels=5_000, max_days=1_000)
    equal = run_truth("equal", 1_000, seed=5, rule=rule, design=design)
    assert equal.runs == 1_000
    assert (equal.promoted + equal.retired) / equal.runs <= 0.05
    # the naive z-test, read as often on the same streams, stops far more often
    assert (equal.naive_promoted + equal.naive_retired) / equal.runs > 0.25


def test_a_better_challenger_is_promoted_and_a_worse_one_never_is() -> None:
    rule = Rule(max_labels=5_000, max_days=1_000)
    better = run_truth("better", 300, seed=6, rule=rule, design=Design("shadow"))
    worse = run_truth("worse", 300, seed=6, rule=rule, design=Design("shadow"))
    assert better.promoted / better.runs >= 0.8
    assert (worse.promoted, worse.retired / worse.runs >= 0.8) == (0, True)
    assert better.labels is not None and min(better.labels) >= rule.min_labels


def test_nothing_is_counted_before_the_label_deadline_so_a_shorter_limit_decides_nothing() -> None:
    rule = Rule(max_labels=2_000, max_days=6.0)
    late = run_truth("better", 200, seed=7, rule=rule, design=Design(deadline_days=7.0))
    assert (late.promoted, late.retired, late.runs) == (0, 0, 200)


def test_a_deadline_shorter_than_the_chargebacks_makes_an_equal_challenger_look_worse() -> None:
    # flagged frauds are labelled in ~3 days, missed ones in ~20: at 14 days mostly the
    # champion's catches are counted; at 60 nearly all frauds are, and the test is fair again
    rule = Rule(max_labels=3_000, max_days=1_000)
    short = run_truth("equal", 300, seed=8, rule=rule, design=Design(deadline_days=14.0))
    fair = run_truth("equal", 300, seed=8, rule=rule, design=Design(deadline_days=60.0))
    assert short.retired / short.runs > 0.5
    assert (fair.promoted + fair.retired) / fair.runs <= 0.05


def test_the_simulated_paths_are_the_services_estimates() -> None:
    rng = np.random.default_rng(3)
    caught, theirs = rng.random((1, 400)) < 0.7, rng.random((1, 400)) < 0.75
    counted = rng.random((1, 400)) < 0.9
    shadow = _shadow_paths(caught, theirs, counted)
    arm_b = rng.random((1, 400)) < 0.3
    split = _split_paths(arm_b, caught, counted)
    for i in (50, 199, 399):
        kept = counted[0, : i + 1]
        diff = (theirs[0, : i + 1].astype(float) - caught[0, : i + 1])[kept]
        want = paired(len(diff), diff.sum(), (diff * diff).sum())
        assert (shadow.value[0, i], shadow.variance[0, i]) == pytest.approx(
            (want.value, want.variance)
        )
        a, b = kept & ~arm_b[0, : i + 1], kept & arm_b[0, : i + 1]
        hits = caught[0, : i + 1]
        want = two_sample(int((hits & a).sum()), int(a.sum()), int((hits & b).sum()), int(b.sum()))
        assert (split.value[0, i], split.variance[0, i]) == pytest.approx(
            (want.value, want.variance)
        )


def test_the_exact_binomial_interval_is_scipys() -> None:
    for hits, runs in ((0, 1000), (17, 1000), (1000, 1000)):
        want = stats.binomtest(hits, runs).proportion_ci(0.95, method="exact")
        assert clopper_pearson(hits, runs) == pytest.approx((want.low, want.high))


def test_simulate_writes_the_figures_the_issue_names(tmp_path: Path) -> None:
    out = tmp_path / "sim.json"
    result = CliRunner().invoke(
        cli, ["experiments", "simulate", "--runs", "200", "--seed", "3", "--json", str(out)]
    )
    assert result.exit_code == 0, result.output
    found = json.loads(out.read_text())
    equal, better = found["by_truth"]["equal"], found["by_truth"]["better"]
    assert (found["runs"], found["alpha"], found["mde"]) == (200, 0.05, 0.05)
    assert found["false_promotion_rate"] == equal["promoted"] / 200
    assert found["power"] == better["promoted"] / 200
    assert found["naive_false_promotion_rate"] == equal["naive_promoted"] / 200
    low, high = found["false_promotion_ci"]
    assert low <= found["false_promotion_rate"] <= high
    assert found["median_labels_to_decision"] >= 100
    assert "false promotions" in result.output and f"wrote {out}" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--share", "0.1"], "--share sets the split; add --mode split"),
        (["--base-recall", "0.9"], "a better challenger would need recall 1.10 > 1"),
        (["--base-recall", "0.1"], "a worse challenger would need recall -0.10 <= 0"),
        (["--runs", "5"], "5 is not in the range x>=100"),
    ],
)
def test_bad_simulate_options_fail_at_once_saying_how_to_fix_them(
    args: list[str], message: str
) -> None:
    env = {"SENTINEL_EXPERIMENTS_MDE": "0.2"}  # a large effect, so 0.9 leaves no room above it
    result = CliRunner().invoke(cli, ["experiments", "simulate", *args], env=env)
    assert result.exit_code == 2
    assert message in result.output
