"""What shadow mode costs a detector: its throughput with a shadow model beside the champion
against without.

Run: ``.venv/bin/python -m benchmarks.bench_shadow [--records N] [--batch N] [--runs N]``.
It trains two models with the benchmark's recipe (the model ``stream-sentinel bench`` scores
with; two seeds, two versions), generates ``--records`` transactions once, and then, ``--runs``
times each, alternating, runs one detector worker on fresh embedded backends over them: the
champion alone, then the champion with a shadow experiment running (the other version on the
``shadow`` alias, as `experiments start --mode shadow` leaves it). Every run decides the same
transactions with the feature log on, as the detector runs by default (after one
short warm-up run that is not counted). It prints each run's
throughput (records/s of detector polling, from the first record consumed to the last), the
medians, their ratio, and the shadow's scoring cost per row (``sentinel_shadow_scoring_seconds``
over the rows it scored). It measures this machine; it asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import time

from benchmarks.bench_model_swap import trained
from stream_sentinel.bench.data import FRAUD_RATE
from stream_sentinel.clients.backends import embedded_backends
from stream_sentinel.clock import ManualClock
from stream_sentinel.config import load_settings
from stream_sentinel.detector.metrics import DetectorMetrics
from stream_sentinel.detector.models import registry_models
from stream_sentinel.detector.shadow import registry_shadow
from stream_sentinel.detector.worker import DetectorWorker
from stream_sentinel.generator import SimulationConfig, Simulator
from stream_sentinel.learning.aliases import SHADOW
from stream_sentinel.learning.experiments.store import ExperimentStore
from stream_sentinel.learning.model_events import Announcer
from stream_sentinel.learning.registry import ModelRegistry
from stream_sentinel.learning.versions import ModelDraft
from stream_sentinel.logic.experiments.definition import Experiment
from stream_sentinel.registry_server.local_client import LocalRegistryClient
from stream_sentinel.transport.topics import Topics
from stream_sentinel.wire import records as avro_records
from stream_sentinel.wire.serde import Serde


def one_run(
    models: list[tuple[ModelDraft, bytes]],
    transactions: list[tuple[bytes, bytes]],
    serde: Serde,
    batch: int,
    shadow: bool,
) -> tuple[float, float | None]:
    """Records per second, and the shadow's seconds per row scored (None without one)."""
    settings = load_settings("test", environ={"SENTINEL_DETECTOR_MAX_BATCH": str(batch)})
    backends = embedded_backends()
    topics = Topics()
    backends.broker.admin().create_topics(topics.specs())
    clock = ManualClock(int(time.time() * 1000))
    registry = ModelRegistry(
        backends.state, clock, announce=Announcer(backends.broker, serde, topics)
    )
    champion, challenger = (registry.register(*m)[0].version for m in models)
    registry.promote(champion, actor="bench")
    if shadow:
        experiment = Experiment.new(
            "exp-bench", "shadow", champion, challenger, None, clock.now_ms(), "bench", ""
        )
        ExperimentStore(backends.state, clock).start(experiment)
        registry.promote(challenger, SHADOW, "experiment exp-bench", "bench")
    metrics = DetectorMetrics()
    champion_models = registry_models(settings, backends, serde, clock, metrics, background=False)
    shadow_models = registry_shadow(
        settings, backends, champion_models, clock=clock, metrics=metrics, background=False
    )
    worker = DetectorWorker(
        settings,
        backends,
        serde,
        models=champion_models,
        clock=clock,
        metrics=metrics,
        shadow=shadow_models,
    )
    worker.start()
    producer = backends.broker.producer()
    for value, key in transactions:
        producer.produce(topics.transactions, value, key)
    producer.flush()
    started = time.perf_counter()
    while worker.loop.stats.records < len(transactions):
        worker.poll()
    worker.loop.settle()
    elapsed = time.perf_counter() - started
    if worker.handler.stats.dead_letters:
        raise SystemExit(f"records refused: {dict(worker.handler.stats.dead_letters)}")
    worker.close()
    champion_models.close()
    shadow_models.close()
    if shadow and worker.summary()["shadow"]["version"] != challenger:
        raise SystemExit(f"the shadow did not score: {worker.summary()['shadow']}")
    rows = metrics.registry.get_sample_value("sentinel_shadow_scoring_seconds_count")
    seconds = metrics.registry.get_sample_value("sentinel_shadow_scoring_seconds_sum")
    per_row = None if not shadow or not rows else (seconds or 0.0) / len(transactions)
    return len(transactions) / elapsed, per_row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=30_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print("training two models with the benchmark's recipe ...")
    models = [trained(seed) for seed in (11, 12)]
    simulator = Simulator(SimulationConfig(users=50_000, fraud_rate=FRAUD_RATE), 7)
    serde = Serde(LocalRegistryClient.in_memory())  # one for every run: the records' schema id
    encode = serde.encoder("transactions")
    transactions = [
        (encode(avro_records.to_dict(tx)), tx.user_id.encode())
        for tx in simulator.transactions(simulator.next_batch(args.records))
    ]
    one_run(models, transactions[: args.batch * 4], serde, args.batch, True)  # warm-up
    rates: dict[bool, list[float]] = {False: [], True: []}
    costs: list[float] = []
    for run in range(args.runs):
        for shadow in (False, True):
            rate, per_row = one_run(models, transactions, serde, args.batch, shadow)
            rates[shadow].append(rate)
            if per_row is not None:
                costs.append(per_row)
            label = "with shadow" if shadow else "without    "
            extra = f"  shadow scoring {per_row * 1e6:.2f} us/row" if per_row else ""
            print(f"run {run + 1} {label}: {rate:10,.0f} records/s{extra}")
    without, with_shadow = statistics.median(rates[False]), statistics.median(rates[True])
    print(f"{args.records:,} records, batches of {args.batch}, {args.runs} runs each")
    print(f"median without a shadow: {without:,.0f} records/s")
    print(f"median with a shadow:    {with_shadow:,.0f} records/s ({with_shadow / without:.1%})")
    print(f"shadow scoring per row (median): {statistics.median(costs) * 1e6:.2f} us")


if __name__ == "__main__":
    main()
