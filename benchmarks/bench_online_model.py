"""The online model's costs (scoring per row, learn_one per row) and the measurement it was
chosen by.

Run: ``.venv/bin/python -m benchmarks.bench_online_model [--rows N] [--compare]``.
It generates a labelled history with the benchmark's generator settings, replays it through the
live feature code (the matrix the detector scores), and then:

* learns the rows one at a time in event-time order with ``OnlineLogReg.learn_one`` (the
  learner's path) and reports the µs per row;
* scores the later rows with the served snapshot (``OnlineArtifact.predict``) in batches of
  500 (the detector's path) and reports the µs per row, beside the LightGBM recipe's on the
  same batches; and the explanation (``contributions``) per row;
* with ``--compare``: the prequential ROC AUC and AP (each row scored before it is learned) of
  candidate online models on the later half: the logistic regression at a few learning rates,
  River's Hoeffding adaptive tree and adaptive random forest (these two: their state is a tree
  of River objects with no documented safe format, so they would also need new serialisation).

It measures this machine; it asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np

from stream_sentinel.bench.data import FRAUD_RATE, MODEL_USERS
from stream_sentinel.config import load_settings
from stream_sentinel.generator import SimulationConfig, Simulator
from stream_sentinel.logic.evaluation import average_precision, roc_auc
from stream_sentinel.logic.features import FEATURES
from stream_sentinel.logic.offline import OfflineReplay, Replayed
from stream_sentinel.logic.profile import DAY_MS
from stream_sentinel.scoring.model import choose_bands
from stream_sentinel.scoring.online import OnlineLogReg
from stream_sentinel.scoring.online_artifact import OnlineArtifact
from stream_sentinel.scoring.train import train
from stream_sentinel.wire import records as avro_records

BATCH = 500


def history(rows: int, seed: int) -> Replayed:
    simulator = Simulator(SimulationConfig(users=MODEL_USERS, fraud_rate=FRAUD_RATE), seed)
    batch = simulator.next_batch(rows)
    records = [avro_records.to_dict(tx) for tx in simulator.transactions(batch)]
    order = sorted(range(len(records)), key=lambda i: records[i]["timestamp"])
    labels = batch.is_fraud.astype(int).tolist()
    return OfflineReplay(DAY_MS).run((records[i] for i in order), (labels[i] for i in order))


def per_row_us(seconds: float, rows: int) -> float:
    return seconds / max(rows, 1) * 1e6


def timed_batches(score: Callable[[np.ndarray], object], x: np.ndarray) -> float:
    """Median µs per row over batches of BATCH rows."""
    times = []
    for start in range(0, len(x) - BATCH + 1, BATCH):
        chunk = np.ascontiguousarray(x[start : start + BATCH])
        began = time.perf_counter()
        score(chunk)
        times.append(per_row_us(time.perf_counter() - began, BATCH))
    return statistics.median(times)


def costs(data: Replayed) -> None:
    split = len(data.labels) // 2
    model = OnlineLogReg(FEATURES)
    began = time.perf_counter()
    for values, label in zip(data.features[:split], data.labels[:split], strict=True):
        model.learn_one(values, bool(label))
    learn_us = per_row_us(time.perf_counter() - began, split)
    rest = data.features[split:]
    bands = choose_bands(np.zeros(1), load_settings(environ={}).detector.band_rates)
    served = OnlineArtifact("m-bench", model, FEATURES, bands)
    began = time.perf_counter()
    river = [model.predict_one(values) for values in rest]
    one_us = per_row_us(time.perf_counter() - began, len(rest))
    online_us = timed_batches(served.predict, rest)
    explain_us = timed_batches(lambda m: served.contributions(m, 3), rest[: 20 * BATCH])
    gap = float(np.abs(served.predict(rest) - np.array(river)).max())
    settings = load_settings(environ={})
    lightgbm, _ = train(data, settings.detector.band_rates)
    lgb_us = timed_batches(lightgbm.predict, rest)
    frauds, size = int(data.labels.sum()), len(model.to_bytes())
    print(f"rows {len(data.labels):,} ({frauds:,} fraud); state {size:,} bytes")
    print(f"learn_one                          {learn_us:8.2f} us/row ({split:,} rows)")
    print(f"predict_one (River, one dict)      {one_us:8.2f} us/row")
    print(f"served predict, batches of {BATCH}     {online_us:8.3f} us/row")
    print(f"served contributions (top 3)       {explain_us:8.3f} us/row")
    print(f"LightGBM recipe predict, same      {lgb_us:8.3f} us/row")
    print(f"largest |served - River| score     {gap:.1e}")


def prequential(
    data: Replayed, make: Callable[[], object], start: int
) -> tuple[float, float, float]:
    """ROC AUC and AP of rows ``start..`` scored before being learned; µs per row (both)."""
    model = make()
    names = list(FEATURES)
    scores, began = [], time.perf_counter()
    for i, (values, label) in enumerate(zip(data.features, data.labels, strict=True)):
        if isinstance(model, OnlineLogReg):
            if i >= start:
                scores.append(model.predict_one(values))
            model.learn_one(values, bool(label))
            continue
        x = {n: float(v) for n, v in zip(names, values, strict=True) if np.isfinite(v)}
        if i >= start:
            scores.append(model.predict_proba_one(x).get(True, 0.0))  # type: ignore[attr-defined]
        model.learn_one(x, bool(label))  # type: ignore[attr-defined]
    took = per_row_us(time.perf_counter() - began, len(data.labels))
    y, s = data.labels[start:], np.array(scores)
    return roc_auc(y, s), average_precision(y, s), took


def compare(data: Replayed, rows: int) -> None:
    from river import forest, tree

    data = Replayed(data.features[:rows], data.labels[:rows], data.timestamps[:rows])
    start = rows // 2
    candidates: dict[str, Callable[[], object]] = {
        f"logreg lr={lr}": (lambda lr=lr: OnlineLogReg(FEATURES, {"lr": lr, "intercept_lr": lr}))
        for lr in (0.001, 0.002, 0.005, 0.01, 0.05)
    }
    candidates["hoeffding adaptive tree"] = lambda: tree.HoeffdingAdaptiveTreeClassifier(seed=7)
    candidates["adaptive random forest (10)"] = lambda: forest.ARFClassifier(n_models=10, seed=7)
    print(f"prequential on rows {start:,}..{rows:,} ({int(data.labels[start:].sum())} fraud):")
    for name, make in candidates.items():
        auc, ap, us = prequential(data, make, start)
        print(f"  {name:30s} ROC AUC {auc:.4f}  AP {ap:.4f}  {us:9.1f} us/row (predict+learn)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=40_000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--compare", action="store_true")
    parser.add_argument("--compare-rows", type=int, default=20_000)
    args = parser.parse_args()
    data = history(args.rows, args.seed)
    costs(data)
    if args.compare:
        compare(data, min(args.compare_rows, args.rows))


if __name__ == "__main__":
    main()
