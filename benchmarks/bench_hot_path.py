"""The detector's hot path on the embedded backends: records per second and time per stage.

Run: ``.venv/bin/python -m benchmarks.bench_hot_path [--records N] [--users N] [--seed S]``.
It trains a model with the benchmark's recipe (as ``stream-sentinel bench`` does, on this
checkout's feature set), preloads generated transactions into the embedded broker, and runs one
detector worker (exactly-once, the default batch sizes) over them: first ``--warmup`` records
untimed, then ``--records`` timed. It prints transactions per second and the detector's own stage
timers in ms per 1,000 transactions, then the feature code alone (``featurize`` over the same
kind of traffic in batches of 1,000, best of five passes, in µs per transaction): the stage
this checkout's feature set changes, measured without the rest of the loop's noise. Because it
only uses the detector's public classes, the same file measures an older checkout too
(``PYTHONPATH=<checkout> python benchmarks/...``).
No Kafka or Redis: it measures the Python hot path (decode, state, features, score, produce,
commit on the in-memory log and store), not network round trips. It asserts nothing.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np

from stream_sentinel.bench.data import FRAUD_RATE, MODEL_HISTORY, MODEL_USERS
from stream_sentinel.clients.backends import embedded_backends
from stream_sentinel.config import load_settings
from stream_sentinel.detector.metrics import DetectorMetrics
from stream_sentinel.detector.models import ModelSource
from stream_sentinel.detector.worker import DetectorWorker
from stream_sentinel.generator import SimulationConfig, Simulator
from stream_sentinel.logic.columns import to_columns
from stream_sentinel.logic.features import FEATURES, MerchantStats, featurize
from stream_sentinel.logic.profile import DAY_MS, new_profiles
from stream_sentinel.registry_server.local_client import LocalRegistryClient
from stream_sentinel.scoring.model import ModelArtifact
from stream_sentinel.scoring.workflow import train_from_records
from stream_sentinel.transport.topics import Topics
from stream_sentinel.wire import records as avro_records
from stream_sentinel.wire.serde import Serde

STAGES = ("decode", "state_read", "features", "score", "produce")


def trained(settings: Any) -> ModelArtifact:
    simulator = Simulator(SimulationConfig(users=MODEL_USERS, fraud_rate=FRAUD_RATE), 11)
    batch = simulator.next_batch(MODEL_HISTORY)
    history = [avro_records.to_dict(tx) for tx in simulator.transactions(batch)]
    labels = batch.is_fraud.astype(int).tolist()
    artifact, _ = train_from_records(history, labels, DAY_MS, settings, holdout=0.2)
    return artifact


def stage_seconds(metrics: DetectorMetrics) -> dict[str, float]:
    [family] = metrics.stage.collect()
    return {
        sample.labels["stage"]: sample.value
        for sample in family.samples
        if sample.name.endswith("_sum")
    }


def featurize_us_per_row(simulator: Simulator, count: int, users: int) -> float:
    """Best of five passes of featurize over ``count`` transactions in batches of 1,000."""
    records = [
        avro_records.to_dict(tx) for tx in simulator.transactions(simulator.next_batch(count))
    ]
    batches = [to_columns(records[i : i + 1000]) for i in range(0, len(records), 1000)]
    index: dict[str, int] = {}
    for columns in batches:  # global user rows, so later batches meet users seen before
        ids = [index.setdefault(u, len(index)) for u in columns.users]
        columns.tx.user_ix = np.asarray(ids, dtype=np.int64)[columns.tx.user_ix]
    best = float("inf")
    for _ in range(5):
        profiles = new_profiles(max(users, len(index)))
        started = time.perf_counter()
        for columns in batches:
            featurize(profiles, columns.tx, MerchantStats.empty(len(columns.merchants)))
        best = min(best, time.perf_counter() - started)
    return best * 1e6 / len(records)


def report(records: int, seconds: float, before: dict[str, float], after: dict[str, float]) -> None:
    per_1000 = {s: (after.get(s, 0.0) - before.get(s, 0.0)) * 1e6 / records for s in STAGES}
    stages = "  ".join(f"{s} {ms:.2f}" for s, ms in per_1000.items())
    print(
        f"{len(FEATURES)} features: {records:,} transactions in {seconds:.2f} s = "
        f"{records / seconds:,.0f} tx/s; ms per 1,000 tx: {stages}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--warmup", type=int, default=20_000)
    parser.add_argument("--users", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    settings = load_settings(environ={})
    model = trained(settings)
    backends = embedded_backends()
    topics = Topics()
    backends.broker.admin().create_topics(topics.specs())
    serde = Serde(LocalRegistryClient.in_memory())
    encode = serde.encoder("transactions")
    producer = backends.broker.producer()
    simulator = Simulator(SimulationConfig(users=args.users, fraud_rate=FRAUD_RATE), args.seed)

    def preload(count: int) -> None:
        for tx in simulator.transactions(simulator.next_batch(count)):
            producer.produce(
                topics.transactions, encode(avro_records.to_dict(tx)), tx.user_id.encode()
            )
        producer.flush()

    metrics = DetectorMetrics()
    worker = DetectorWorker(settings, backends, serde, models=ModelSource(model), metrics=metrics)
    worker.start()

    def drain(count: int) -> float:
        done = worker.loop.stats.records + count
        started = time.perf_counter()
        while worker.loop.stats.records < done:
            worker.poll()
        worker.loop.settle()
        return time.perf_counter() - started

    preload(args.warmup)
    drain(args.warmup)
    before = stage_seconds(metrics)
    preload(args.records)
    seconds = drain(args.records)
    after = stage_seconds(metrics)
    worker.close()
    report(args.records, seconds, before, after)
    us = featurize_us_per_row(simulator, args.records, args.users)
    print(f"{len(FEATURES)} features: featurize alone {us:.2f} µs per transaction")


if __name__ == "__main__":
    main()
