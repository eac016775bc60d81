"""What an experiment costs a detector: its throughput with the challenger beside the champion
(shadow mode) or deciding a share of the users (split mode) against the champion alone.

Run: ``.venv/bin/python -m benchmarks.bench_shadow [--records N] [--batch N] [--runs N]
[--share S]``. It trains two models with the benchmark's recipe (the model ``stream-sentinel
bench`` scores with; two seeds, two versions), generates ``--records`` transactions once, and
then, ``--runs`` times each, in turn, runs one detector worker on fresh embedded backends over
them: the champion alone, then with a shadow experiment running (the other version on the
``shadow`` alias, as `experiments start --mode shadow` leaves it), then with a split experiment
(the other version on the ``challenger`` alias deciding ``--share`` of the users, as
`experiments start --mode split` leaves it). Every run decides the same transactions with the
feature log on, as the detector runs by default (after one short warm-up run per mode that is
not counted). It prints each run's throughput (records/s of detector polling, from the first
record consumed to the last), the medians, their ratios, and the challenger's scoring cost per
row (``sentinel_shadow_scoring_seconds`` over the rows it scored). It measures this machine; it
asserts nothing.
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
from stream_sentinel.detector.shadow import registry_challenger
from stream_sentinel.detector.worker import DetectorWorker
from stream_sentinel.generator import SimulationConfig, Simulator
from stream_sentinel.learning.aliases import CHALLENGER, SHADOW
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
    mode: str,
    share: float,
) -> tuple[float, float | None, dict[str, float]]:
    """Records per second in ``mode`` (none, shadow or split), the challenger's seconds per
    row scored (None without an experiment), and the seconds per row of the stages an
    experiment changes (``score``: both models and the decisions; ``produce``: encoding)."""
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
    if mode != "none":
        experiment = Experiment.new(
            "exp-bench",
            mode,
            champion,
            challenger,
            share if mode == "split" else None,
            clock.now_ms(),
            "bench",
            "",
        )
        ExperimentStore(backends.state, clock).start(experiment)
        alias = SHADOW if mode == "shadow" else CHALLENGER
        registry.promote(challenger, alias, "experiment exp-bench", "bench")
    metrics = DetectorMetrics()
    champion_models = registry_models(settings, backends, serde, clock, metrics, background=False)
    shadow_models = registry_challenger(
        settings, backends, champion_models, clock=clock, metrics=metrics, background=False
    )
    worker = DetectorWorker(
        settings,
        backends,
        serde,
        models=champion_models,
        clock=clock,
        metrics=metrics,
        challenger=shadow_models,
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
    if mode != "none" and worker.summary()["shadow"]["version"] != challenger:
        raise SystemExit(f"the challenger did not score: {worker.summary()['shadow']}")
    rows = metrics.registry.get_sample_value("sentinel_shadow_scoring_seconds_count")
    seconds = metrics.registry.get_sample_value("sentinel_shadow_scoring_seconds_sum")
    per_row = None if mode == "none" or not rows else (seconds or 0.0) / len(transactions)
    stages = {
        stage: (
            metrics.registry.get_sample_value("sentinel_stage_seconds_sum", {"stage": stage}) or 0.0
        )
        / len(transactions)
        for stage in STAGES
    }
    return len(transactions) / elapsed, per_row, stages


MODES = ("none", "shadow", "split")
STAGES = ("score", "produce")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=30_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--share", type=float, default=0.1, help="split mode's challenger share")
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
    for mode in MODES:  # warm-up
        one_run(models, transactions[: args.batch * 4], serde, args.batch, mode, args.share)
    rates: dict[str, list[float]] = {mode: [] for mode in MODES}
    costs: dict[str, list[float]] = {mode: [] for mode in MODES}
    stages: dict[str, list[dict[str, float]]] = {mode: [] for mode in MODES}
    for run in range(args.runs):
        for mode in MODES:
            rate, per_row, timed = one_run(
                models, transactions, serde, args.batch, mode, args.share
            )
            rates[mode].append(rate)
            stages[mode].append(timed)
            if per_row is not None:
                costs[mode].append(per_row)
            extra = f"  challenger scoring {per_row * 1e6:.2f} us/row" if per_row else ""
            spent = "  ".join(f"{s} {timed[s] * 1e6:.2f}" for s in STAGES)
            print(f"run {run + 1} {mode:6}: {rate:10,.0f} records/s  us/row: {spent}{extra}")
    report(args, rates, costs, stages)


def report(
    args: argparse.Namespace,
    rates: dict[str, list[float]],
    costs: dict[str, list[float]],
    stages: dict[str, list[dict[str, float]]],
) -> None:
    """The medians of every mode, and each experiment mode's against the champion alone."""
    for mode in MODES:
        medians = {s: statistics.median(t[s] for t in stages[mode]) * 1e6 for s in STAGES}
        timed = "  ".join(f"{s} {v:.2f} us/row" for s, v in medians.items())
        print(f"median stage time, {mode}: {timed}")
    rate = {mode: statistics.median(rates[mode]) for mode in MODES}
    print(f"{args.records:,} records, batches of {args.batch}, {args.runs} runs each")
    print(f"median, no experiment:     {rate['none']:,.0f} records/s")
    for mode in MODES[1:]:
        label = f"{mode} (share {args.share})" if mode == "split" else mode
        ratio = rate[mode] / rate["none"]
        print(f"median, {label + ':':18} {rate[mode]:,.0f} records/s ({ratio:.1%})")
        cost = statistics.median(costs[mode]) * 1e6
        print(f"  challenger scoring per row (median): {cost:.2f} us")


if __name__ == "__main__":
    main()
