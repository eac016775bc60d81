"""Decisions and, at their deadline, labels to counters: each transaction counted once with the
label it has at its deadline, and the standing computed from them is the recall computed
directly."""

from __future__ import annotations

import random
from collections import defaultdict

import pytest

from stream_sentinel.logic.experiments.counting import Decided, Kept, settle, traffic
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
        Decided(0, True, False, True, champion_us=4.0),
        Decided(1, False, True, False, challenger_us=6.0),
        Decided(1, False, False, False, challenger_us=6.0),
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
    # shadow: both scored the row, each at its own cost, and the challenger declined nothing
    assert traffic([Decided(0, True, False, True, 5.0, 9.0)], "shadow") == {
        "0:rows": 1.0,
        "0:alerts": 1.0,
        "0:declines": 1.0,
        "0:scoring_us": 5.0,
        "1:rows": 1.0,
        "1:scoring_us": 9.0,
    }


def test_only_the_label_held_at_the_deadline_counts() -> None:
    kept = Kept(1, champion_flagged=True, challenger_flagged=False)
    assert settle(kept, "split") == {}  # never labelled: not a fraud
    assert settle(kept.labelled("LEGIT"), "split") == {}
    assert settle(kept.labelled("FRAUD"), "split") == {"1:frauds": 1.0}
    assert settle(kept.labelled("FRAUD"), "shadow") == {
        "0:frauds": 1.0,
        "1:frauds": 1.0,
        "0:caught": 1.0,
        "pair:n": 1.0,
        "pair:sum": -1.0,
        "pair:squares": 1.0,
    }
    assert Kept.decode(kept.labelled("FRAUD").encode()) == kept.labelled("FRAUD")


@pytest.mark.parametrize("mode", ["shadow", "split"])
def test_counters_settled_at_the_deadline_give_the_directly_computed_recalls(mode: str) -> None:
    rng = random.Random(4)
    kept: dict[int, Kept] = {}
    counts: dict[str, float] = {}
    for tx in range(3_000):
        arm = 0 if mode == "shadow" else int(rng.random() < 0.3)
        row = Decided(arm, rng.random() < 0.6, rng.random() < 0.7, rng.random() < 0.01)
        kept[tx] = row.kept
        add(counts, traffic([row], mode))
    for _ in range(2_000):  # labels, some changing a transaction's effective label
        tx = rng.randrange(3_000)
        kept[tx] = kept[tx].labelled("FRAUD" if rng.random() < 0.5 else "LEGIT")
    for held in kept.values():  # every deadline passes
        add(counts, settle(held, mode))
    frauds = [tx for tx, held in kept.items() if held.label == "FRAUD"]
    by_arm: defaultdict[int, list[int]] = defaultdict(list)
    for tx in frauds:
        by_arm[kept[tx].arm].append(tx)
    share = None if mode == "shadow" else 0.3
    experiment = Experiment.new("e", mode, "a", "b", share, T0, "t", "")
    found = standing(experiment, counts, Rule(), Limits(), T0)
    if mode == "shadow":
        champion = sum(kept[tx].champion_flagged for tx in frauds) / len(frauds)
        challenger = sum(kept[tx].challenger_flagged for tx in frauds) / len(frauds)
    else:
        champion = sum(kept[tx].champion_flagged for tx in by_arm[0]) / len(by_arm[0])
        challenger = sum(kept[tx].challenger_flagged for tx in by_arm[1]) / len(by_arm[1])
    assert found.evidence.labels == len(frauds)
    assert [r.recall for r in found.recall] == [pytest.approx(champion), pytest.approx(challenger)]
    assert found.evidence.estimate == pytest.approx(challenger - champion)
