"""Decisions and labels to counters: the counters always hold each transaction's effective
label once, and the standing computed from them is the recall computed directly."""

from __future__ import annotations

import random
from collections import defaultdict

import pytest

from stream_sentinel.logic.experiments.counting import Decided, Kept, relabel, traffic
from stream_sentinel.logic.experiments.definition import Experiment
from stream_sentinel.logic.experiments.guardrails import Limits
from stream_sentinel.logic.experiments.rule import Rule
from stream_sentinel.logic.experiments.standing import standing

pytestmark = pytest.mark.unit
T0 = 1_700_000_000_000


def add(into: dict[str, float], more: dict[str, float]) -> None:
    for name, value in more.items():
        into[name] = into.get(name, 0.0) + value


def test_split_traffic_goes_to_the_deciding_arm_and_shadow_traffic_to_both() -> None:
    rows = [
        Decided(0, True, False, True, 4.0),
        Decided(1, False, True, False, 6.0),
        Decided(1, False, False, False, 6.0),
    ]
    assert traffic(rows, "split") == {
        "0:rows": 1.0,
        "0:alerts": 1.0,
        "0:declines": 1.0,
        "0:scoring_us": 4.0,
        "1:rows": 2.0,
        "1:alerts": 1.0,
        "1:scoring_us": 12.0,
    }
    assert traffic([Decided(0, True, False, True, 5.0)], "shadow") == {
        "0:rows": 1.0,
        "0:alerts": 1.0,
        "0:declines": 1.0,
        "0:scoring_us": 5.0,
        "1:rows": 1.0,
        "1:scoring_us": 5.0,
    }


def test_a_label_taken_back_takes_its_counts_back() -> None:
    kept = Kept(1, champion_flagged=True, challenger_flagged=False)
    total: dict[str, float] = {}
    add(total, relabel(kept, None, "FRAUD", "split"))
    assert total == {"1:frauds": 1.0}
    add(total, relabel(kept, "FRAUD", "LEGIT", "split"))
    add(total, relabel(kept, "LEGIT", "LEGIT", "split"))
    assert {k: v for k, v in total.items() if v} == {}
    assert Kept.decode(kept.encode()) == kept


@pytest.mark.parametrize("mode", ["shadow", "split"])
def test_counters_from_a_stream_with_relabels_give_the_directly_computed_recalls(
    mode: str,
) -> None:
    rng = random.Random(4)
    kept: dict[int, Kept] = {}
    effective: dict[int, str] = {}
    counts: dict[str, float] = {}
    for tx in range(3_000):
        arm = 0 if mode == "shadow" else int(rng.random() < 0.3)
        row = Decided(arm, rng.random() < 0.6, rng.random() < 0.7, rng.random() < 0.01)
        kept[tx] = row.kept
        add(counts, traffic([row], mode))
    for _ in range(2_000):  # labels, some of them changing a transaction's effective label
        tx = rng.randrange(3_000)
        label = "FRAUD" if rng.random() < 0.5 else "LEGIT"
        add(counts, relabel(kept[tx], effective.get(tx), label, mode))
        effective[tx] = label
    frauds = [tx for tx, label in effective.items() if label == "FRAUD"]
    by_arm: defaultdict[int, list[int]] = defaultdict(list)
    for tx in frauds:
        by_arm[0 if mode == "shadow" else kept[tx].arm].append(tx)
    experiment = (
        Experiment.new("e", "shadow", "a", "b", None, T0, "t", "")
        if mode == "shadow"
        else Experiment.new("e", "split", "a", "b", 0.3, T0, "t", "")
    )
    found = standing(experiment, counts, Rule(), Limits(), T0)
    if mode == "shadow":
        champion = sum(kept[tx].champion_flagged for tx in frauds) / len(frauds)
        challenger = sum(kept[tx].challenger_flagged for tx in frauds) / len(frauds)
        assert found.evidence.labels == len(frauds)
    else:
        champion = sum(kept[tx].champion_flagged for tx in by_arm[0]) / len(by_arm[0])
        challenger = sum(kept[tx].challenger_flagged for tx in by_arm[1]) / len(by_arm[1])
        assert found.evidence.labels == len(frauds)
    assert [r.recall for r in found.recall] == [pytest.approx(champion), pytest.approx(challenger)]
    assert found.evidence.estimate == pytest.approx(challenger - champion)
    assert found.traffic[0].rows + (found.traffic[1].rows if mode == "split" else 0) == 3_000
