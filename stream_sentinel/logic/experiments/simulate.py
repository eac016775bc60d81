"""Simulated experiments with known truth: how often the decision rule is wrong, and how fast.

Each run is one experiment on a stream of frauds whose truth is set: the challenger's recall is
the champion's plus the minimum detectable effect (``better``), equal (``equal``) or minus it
(``worse``). The rule reads the evidence after **every** counted fraud, as the service does,
and its first verdict ends the run. A naive rule that runs a two-sided z-test after every
fraud and stops at the first p < alpha is run on the same streams, side by side: it is the
error the mSPRT exists to avoid.

Two designs, as in the service: ``shadow`` (both models score every fraud; the outcomes of the
two models on one fraud are correlated through a Gaussian copula with ``correlation``) and
``split`` (each fraud was decided by one arm, the challenger's with probability ``share``).

**Labels and their deadline.** Frauds happen at ``frauds_per_day``. A fraud the deciding model
flagged is investigated and labelled soon (log-normal delay, median ``caught_delay_days``); one
it missed is found by a chargeback weeks later (median ``missed_delay_days``; sigma 0.5 both).
So the order in which labels *arrive* depends on the outcomes, and a test fed labels as they
arrive sees the champion's catches first. The service therefore counts a transaction at its
**deadline** (decision time + ``deadline_days``), in decision order, with the label it has by
then; a fraud whose label came later counts as not a fraud. The simulation does the same, so
the bias a short deadline leaves (it drops missed frauds more often than caught ones) shows in
its figures. Whole runs are arrays (a run is one row), in chunks of runs to bound memory.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from stream_sentinel.logic.experiments.rule import Rule
from stream_sentinel.logic.experiments.sequential import MIN_UNIT_VARIANCE, log_ratio

TRUTHS = ("better", "equal", "worse")
CHUNK = 100


@dataclass(frozen=True)
class Design:
    mode: str = "shadow"  # "shadow" or "split"
    share: float = 0.5  # the challenger's share of users (split)
    base_recall: float = 0.7  # the champion's recall at its alert budget
    correlation: float = 0.6  # how alike the two models' catches are (shadow)
    frauds_per_day: float = 40.0
    caught_delay_days: float = 3.0  # median label delay of a fraud the decider flagged
    missed_delay_days: float = 20.0  # ... and of one it missed (a chargeback)
    deadline_days: float = 60.0  # a transaction is counted this long after its decision


@dataclass(frozen=True)
class Paths:
    """Per run (rows) and fraud (columns, decision order): the estimate and its variance after
    the frauds counted so far, the smaller arm's count, and how many frauds were counted."""

    value: np.ndarray
    variance: np.ndarray
    smaller_arm: np.ndarray
    counted: np.ndarray


def _shadow_paths(caught: np.ndarray, theirs: np.ndarray, counted: np.ndarray) -> Paths:
    """The paired estimate (challenger caught - champion caught) over the counted frauds."""
    diff = (theirs.astype(np.float64) - caught) * counted
    count = np.cumsum(counted, axis=1, dtype=np.float64)
    total, squares = np.cumsum(diff, axis=1), np.cumsum(diff * diff, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.where(count > 0, total / count, 0.0)
        unit = np.maximum((squares - count * mean * mean) / (count - 1), MIN_UNIT_VARIANCE)
        variance = np.where(count > 1, unit / count, np.inf)
    return Paths(mean, variance, count, count)


def _split_paths(arm_b: np.ndarray, caught: np.ndarray, counted: np.ndarray) -> Paths:
    """Recall of the challenger's arm minus the champion's, each over its own counted frauds."""
    fb = np.cumsum(arm_b & counted, axis=1, dtype=np.float64)
    fa = np.cumsum(~arm_b & counted, axis=1, dtype=np.float64)
    cb = np.cumsum(caught & arm_b & counted, axis=1, dtype=np.float64)
    ca = np.cumsum(caught & ~arm_b & counted, axis=1, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = cb / fb - ca / fa
        pa, pb = (ca + 0.5) / (fa + 1), (cb + 0.5) / (fb + 1)
        variance = pa * (1 - pa) / fa + pb * (1 - pb) / fb
    empty = (fa == 0) | (fb == 0)
    value, variance = np.where(empty, 0.0, value), np.where(empty, np.inf, variance)
    return Paths(value, variance, np.minimum(fa, fb), fa + fb)


def _streams(
    rng: np.random.Generator, size: int, n: int, p0: float, p1: float, design: Design
) -> tuple[Paths, np.ndarray]:
    """One chunk of runs: the paths and each fraud's counting time (days)."""
    if design.mode == "shadow":
        z0 = rng.standard_normal((size, n))
        rho = design.correlation
        z1 = rho * z0 + np.sqrt(1 - rho * rho) * rng.standard_normal((size, n))
        caught, theirs = z0 < stats.norm.ppf(p0), z1 < stats.norm.ppf(p1)
        decider_caught, arm_b = caught, None
    else:
        arm_b = rng.random((size, n)) < design.share
        decider_caught = rng.random((size, n)) < np.where(arm_b, p1, p0)
    median = np.where(decider_caught, design.caught_delay_days, design.missed_delay_days)
    delay = median * np.exp(0.5 * rng.standard_normal((size, n)))
    counted = delay <= design.deadline_days
    decided = np.sort(rng.random((size, n)), axis=1) * (n / design.frauds_per_day)
    if arm_b is None:
        paths = _shadow_paths(caught, theirs, counted)
    else:
        paths = _split_paths(arm_b, decider_caught, counted)
    return paths, decided + design.deadline_days


def _first(crossed: np.ndarray) -> np.ndarray:
    """Each row's first True column, -1 where none."""
    found = crossed.any(axis=1)
    return np.where(found, crossed.argmax(axis=1), -1)


@dataclass
class Tally:
    """The verdicts of one truth's runs, for both rules."""

    runs: int = 0
    promoted: int = 0
    retired: int = 0
    naive_promoted: int = 0
    naive_retired: int = 0
    labels: list[int] = field(default_factory=list)  # of the decided runs
    days: list[float] = field(default_factory=list)

    def add(
        self,
        index: np.ndarray,
        sign: np.ndarray,
        naive: np.ndarray,
        naive_sign: np.ndarray,
        paths: Paths,
        days: np.ndarray,
    ) -> None:
        decided = index >= 0
        self.runs += len(index)
        self.promoted += int((decided & (sign > 0)).sum())
        self.retired += int((decided & (sign < 0)).sum())
        self.naive_promoted += int(((naive >= 0) & (naive_sign > 0)).sum())
        self.naive_retired += int(((naive >= 0) & (naive_sign < 0)).sum())
        rows = np.flatnonzero(decided)
        self.labels += [int(paths.counted[r, index[r]]) for r in rows]
        self.days += [float(days[r, index[r]]) for r in rows]


def _verdicts(
    paths: Paths, days: np.ndarray, rule: Rule
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Each run's first verdict of the mixture rule and of the naive one (index, sign), counting
    only frauds counted within ``rule.max_days`` and ``rule.max_labels``."""
    ready = (paths.smaller_arm >= rule.min_labels) & (days <= rule.max_days)
    ready &= paths.counted <= rule.max_labels
    mixture = ready & (log_ratio(paths.value, paths.variance, rule.mde) >= np.log(1 / rule.alpha))
    z = stats.norm.ppf(1 - rule.alpha / 2)
    with np.errstate(invalid="ignore"):
        naive = ready & (paths.value * paths.value >= z * z * paths.variance)
    index, naive_index = _first(mixture), _first(naive)
    rows = np.arange(len(index))
    sign = np.sign(paths.value[rows, np.maximum(index, 0)])
    naive_sign = np.sign(paths.value[rows, np.maximum(naive_index, 0)])
    return index, sign, naive_index, naive_sign


def run_truth(truth: str, runs: int, seed: int, rule: Rule, design: Design) -> Tally:
    """``runs`` simulated experiments of one truth, each ending at its first verdict, at
    ``rule.max_labels`` counted frauds or at ``rule.max_days`` (undecided)."""
    effect = {"better": rule.mde, "equal": 0.0, "worse": -rule.mde}[truth]
    p0, p1 = design.base_recall, design.base_recall + effect
    rng = np.random.default_rng([seed, TRUTHS.index(truth)])
    tally = Tally()
    for start in range(0, runs, CHUNK):
        size = min(CHUNK, runs - start)
        paths, days = _streams(rng, size, rule.max_labels, p0, p1, design)
        tally.add(*_verdicts(paths, days, rule), paths, days)
    return tally


def clopper_pearson(hits: int, runs: int, level: float = 0.95) -> tuple[float, float]:
    """The exact binomial confidence interval of ``hits / runs``."""
    tail = (1 - level) / 2
    low = 0.0 if hits == 0 else float(stats.beta.ppf(tail, hits, runs - hits + 1))
    high = 1.0 if hits == runs else float(stats.beta.ppf(1 - tail, hits + 1, runs - hits))
    return low, high


def _median(values: list[int] | list[float]) -> float | None:
    return float(np.median(values)) if values else None


def summary(runs: int, seed: int, rule: Rule, design: Design) -> dict[str, object]:
    """Every truth's tallies and the headline rates, as the JSON of ``experiments simulate``.

    ``false_promotion_rate`` is measured on the truly-equal runs (the hardest case: a worse
    challenger is promoted far less often, its rate is listed under ``by_truth``);
    ``false_stop_rate`` counts any verdict on them (promote or retire), which a valid test keeps
    at most alpha however often it is read. The headline labels and days to a verdict are of
    the truly-better runs, undecided ones counted at the limit; ``by_truth`` has the medians of
    the decided runs of each truth."""
    tallies = {truth: run_truth(truth, runs, seed, rule, design) for truth in TRUTHS}
    equal, better = tallies["equal"], tallies["better"]
    by_truth = {
        truth: {
            "runs": t.runs,
            "promoted": t.promoted,
            "retired": t.retired,
            "undecided": t.runs - t.promoted - t.retired,
            "naive_promoted": t.naive_promoted,
            "naive_retired": t.naive_retired,
            "median_labels_to_decision": _median(t.labels),
            "median_days_to_decision": _median(t.days),
        }
        for truth, t in tallies.items()
    }
    # the better runs' labels and days to a verdict, an undecided run counted at the limit
    # (leaving them out would make a test with little power look fast)
    undecided = better.runs - len(better.labels)
    labels = better.labels + [rule.max_labels] * undecided
    days = better.days + [rule.max_days] * undecided
    return {
        "runs": runs,
        "seed": seed,
        "alpha": rule.alpha,
        "mde": rule.mde,
        "min_labels": rule.min_labels,
        "max_labels": rule.max_labels,
        "design": design.__dict__,
        "false_promotion_rate": equal.promoted / runs,
        "false_promotion_ci": list(clopper_pearson(equal.promoted, runs)),
        "false_stop_rate": (equal.promoted + equal.retired) / runs,
        "false_stop_ci": list(clopper_pearson(equal.promoted + equal.retired, runs)),
        "power": better.promoted / runs,
        "power_ci": list(clopper_pearson(better.promoted, runs)),
        "median_labels_to_decision": _median(labels),
        "median_days_to_decision": _median(days),
        "naive_false_promotion_rate": equal.naive_promoted / runs,
        "naive_false_stop_rate": (equal.naive_promoted + equal.naive_retired) / runs,
        "by_truth": by_truth,
    }
