"""Model capacity and class imbalance, chosen by time-ordered validation under a scoring budget.

Run: ``.venv/bin/python -m benchmarks.bench_model_capacity [--choose-seed S] [--report-seed S]``.

For each seed it simulates ``--days`` of labelled traffic (``--users`` customers, fraud rate 1%),
replays it through the live feature code (a fraud label reaches the merchant counters
``--label-delay`` after its transaction, as in ``train``), drops the first ``--warmup-days``
(cold windows), and splits by event time: train on the older days, validate on the last
``--validation-days``. On the *choosing* seed it sweeps trees x leaves and three ways to handle
the imbalance (none; ``scale_pos_weight`` = legit / fraud; legitimate rows downsampled to
``--keep-legit`` of them) with the training parameters of ``scoring/train.py`` otherwise, and
prints ROC AUC, average precision (AP) and the scoring cost in µs per row (LightGBM ``predict``
on one thread over batches of 1,000 validation rows, best of three, as the detector scores).
It picks the configuration with the best AP within ``--budget-us`` and then, on the *reporting*
seed (other customers, other traffic), prints the pick beside today's default (60 x 15, no
weighting), so the figure reported is not the one the choice was made on. It asserts nothing.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from typing import Any

import lightgbm as lgb
import numpy as np

from stream_sentinel.generator import SimulationConfig, Simulator
from stream_sentinel.logic.evaluation import average_precision, roc_auc
from stream_sentinel.logic.features import FEATURES
from stream_sentinel.logic.offline import OfflineReplay
from stream_sentinel.scoring.train import PARAMS, ROUNDS
from stream_sentinel.wire import records as avro_records

DAY_MS = 86_400_000
START_MS = 1_735_689_600_000  # 2025-01-01
DEFAULT = (ROUNDS, int(PARAMS["num_leaves"]), "none")


@dataclass(frozen=True)
class Split:
    x_train: np.ndarray
    y_train: np.ndarray
    x_valid: np.ndarray
    y_valid: np.ndarray


@dataclass(frozen=True)
class Result:
    trees: int
    leaves: int
    imbalance: str
    auc: float
    ap: float
    us_per_row: float
    fit_s: float


def split_for(seed: int, args: argparse.Namespace) -> Split:
    end = START_MS + args.days * DAY_MS
    config = SimulationConfig(users=args.users, fraud_rate=0.01, start_ms=START_MS, end_ms=end)
    simulator = Simulator(config, seed)
    records: list[dict[str, Any]] = []
    labels: list[int] = []
    while not simulator.finished:
        batch = simulator.next_batch(50_000)
        records += [avro_records.to_dict(tx) for tx in simulator.transactions(batch)]
        labels += batch.is_fraud.astype(int).tolist()
        if len(batch.is_fraud) == 0:
            break
    replayed = OfflineReplay(args.label_delay * DAY_MS).run(records, labels)
    ts = replayed.timestamps
    usable = ts >= START_MS + args.warmup_days * DAY_MS
    valid = ts >= end - args.validation_days * DAY_MS
    train = usable & ~valid
    x, y = replayed.features, replayed.labels.astype(np.int64)
    return Split(x[train], y[train], x[valid], y[valid])


def fit(split: Split, trees: int, leaves: int, imbalance: str, keep_legit: float) -> lgb.Booster:
    params = {**PARAMS, "num_leaves": leaves}
    x, y = split.x_train, split.y_train
    if imbalance == "scale_pos_weight":
        params["scale_pos_weight"] = float((y == 0).sum() / max(1, (y == 1).sum()))
    elif imbalance == "downsample":
        keep = (y == 1) | (np.random.default_rng(7).random(len(y)) < keep_legit)
        x, y = x[keep], y[keep]
    dataset = lgb.Dataset(x, label=y, feature_name=list(FEATURES), free_raw_data=True)
    return lgb.train(params, dataset, num_boost_round=trees)


def us_per_row(booster: lgb.Booster, x: np.ndarray) -> float:
    rows = x[: min(len(x), 20_000)]
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        for i in range(0, len(rows), 1000):
            booster.predict(rows[i : i + 1000], num_threads=1)
        best = min(best, time.perf_counter() - started)
    return best * 1e6 / len(rows)


def evaluate(split: Split, trees: int, leaves: int, imbalance: str, keep: float) -> Result:
    started = time.perf_counter()
    booster = fit(split, trees, leaves, imbalance, keep)
    fit_s = time.perf_counter() - started
    scores = np.asarray(booster.predict(split.x_valid, num_threads=2))
    return Result(
        trees,
        leaves,
        imbalance,
        roc_auc(split.y_valid, scores),
        average_precision(split.y_valid, scores),
        us_per_row(booster, split.x_valid),
        fit_s,
    )


def show(result: Result, note: str = "") -> None:
    print(
        f"  {result.trees:>5} x {result.leaves:<3} {result.imbalance:<17} "
        f"AUC {result.auc:.4f}  AP {result.ap:.4f}  {result.us_per_row:6.2f} µs/row  "
        f"fit {result.fit_s:5.1f} s {note}",
        flush=True,
    )


def describe(name: str, seed: int, split: Split) -> None:
    print(
        f"{name} seed {seed}: train {len(split.y_train):,} rows ({int(split.y_train.sum()):,} "
        f"fraud), validation {len(split.y_valid):,} rows ({int(split.y_valid.sum()):,} fraud)",
        flush=True,
    )


def numbers(text: str) -> list[int]:
    return [int(part) for part in text.split(",")]


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--choose-seed", type=int, default=101)
    parser.add_argument("--report-seed", type=int, default=202)
    parser.add_argument("--users", type=int, default=3000)
    parser.add_argument("--days", type=int, default=21)
    parser.add_argument("--warmup-days", type=int, default=3)
    parser.add_argument("--validation-days", type=int, default=5)
    parser.add_argument("--label-delay", type=int, default=1, help="days")
    parser.add_argument("--trees", type=numbers, default=[30, 60, 120, 250])
    parser.add_argument("--leaves", type=numbers, default=[7, 15, 31, 63])
    parser.add_argument("--keep-legit", type=float, default=0.2)
    parser.add_argument("--budget-us", type=float, default=10.0)
    args = parser.parse_args()
    choosing = split_for(args.choose_seed, args)
    describe("choosing on", args.choose_seed, choosing)
    results = []
    for imbalance in ("none", "scale_pos_weight", "downsample"):
        for trees in args.trees:
            for leaves in args.leaves:
                result = evaluate(choosing, trees, leaves, imbalance, args.keep_legit)
                show(result)
                results.append(result)
    within = [r for r in results if r.us_per_row <= args.budget_us] or results
    best = max(within, key=lambda r: r.ap)
    print(f"best AP within {args.budget_us:g} µs/row on seed {args.choose_seed}:")
    show(best)
    reporting = split_for(args.report_seed, args)
    describe("reporting on", args.report_seed, reporting)
    show(evaluate(reporting, *DEFAULT, args.keep_legit), "(today's default)")
    show(evaluate(reporting, best.trees, best.leaves, best.imbalance, args.keep_legit), "(pick)")


if __name__ == "__main__":
    main()
