"""What a hot model swap costs a running detector.

Run: ``.venv/bin/python -m benchmarks.bench_model_swap [--swaps N] [--batch N]``.
It trains two models with the benchmark's recipe (the model ``stream-sentinel bench`` scores
with; two seeds, so two versions), registers both in an embedded model registry, and runs one
detector worker on the embedded backends over generated traffic, one batch of ``--batch``
transactions per poll. Every few batches it promotes the other version (announced on
``model-events``, as `models promote` does) and keeps polling until the worker has swapped.
It prints, in ms: the background load (registry read, sha256 check, LightGBM parse), the pause
the swap takes between two batches, and the time of the batches during a load and the batch
after a swap against the median batch. It measures this machine; it asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import time

from stream_sentinel.bench.data import FRAUD_RATE, MODEL_HISTORY, MODEL_USERS
from stream_sentinel.clients.backends import embedded_backends
from stream_sentinel.clock import ManualClock
from stream_sentinel.config import load_settings
from stream_sentinel.detector.metrics import DetectorMetrics
from stream_sentinel.detector.models import RegistryModels
from stream_sentinel.detector.worker import DetectorWorker
from stream_sentinel.generator import SimulationConfig, Simulator
from stream_sentinel.learning.model_events import Announcer, EventFollower
from stream_sentinel.learning.models import draft_of
from stream_sentinel.learning.registry import ModelRegistry
from stream_sentinel.learning.versions import ModelDraft
from stream_sentinel.logic.profile import DAY_MS
from stream_sentinel.registry_server.local_client import LocalRegistryClient
from stream_sentinel.scoring.workflow import train_from_records
from stream_sentinel.transport.topics import Topics
from stream_sentinel.wire import records as avro_records
from stream_sentinel.wire.serde import Serde


def trained(seed: int) -> tuple[ModelDraft, bytes]:
    settings = load_settings(environ={})
    simulator = Simulator(SimulationConfig(users=MODEL_USERS, fraud_rate=FRAUD_RATE), seed)
    batch = simulator.next_batch(MODEL_HISTORY)
    history = [avro_records.to_dict(tx) for tx in simulator.transactions(batch)]
    labels = batch.is_fraud.astype(int).tolist()
    artifact, _ = train_from_records(history, labels, DAY_MS, settings, holdout=0.2)
    return draft_of(artifact, DAY_MS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--swaps", type=int, default=20)
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args()
    settings = load_settings("test", environ={})
    backends = embedded_backends()
    topics = Topics()
    backends.broker.admin().create_topics(topics.specs())
    serde = Serde(LocalRegistryClient.in_memory())
    clock = ManualClock(int(time.time() * 1000))
    registry = ModelRegistry(
        backends.state, clock, announce=Announcer(backends.broker, serde, topics)
    )
    print("training two models with the benchmark's recipe ...")
    versions = [registry.register(*trained(seed))[0].version for seed in (11, 12)]
    size = registry.get(versions[0]).artifact.size
    registry.promote(versions[0], actor="bench")
    metrics = DetectorMetrics()
    models = RegistryModels(
        ModelRegistry(backends.state, clock),
        EventFollower(backends.broker, serde, topics),
        clock=clock,
        metrics=metrics,
    )
    worker = DetectorWorker(settings, backends, serde, models=models, clock=clock)
    worker.start()
    simulator = Simulator(SimulationConfig(users=50_000, fraud_rate=FRAUD_RATE), 7)
    encode = serde.encoder("transactions")
    producer = backends.broker.producer()

    def one_batch() -> float:
        for tx in simulator.transactions(simulator.next_batch(args.batch)):
            producer.produce(
                topics.transactions, encode(avro_records.to_dict(tx)), tx.user_id.encode()
            )
        started = time.perf_counter()
        done = worker.loop.stats.records + args.batch
        while worker.loop.stats.records < done:
            worker.poll()
        return (time.perf_counter() - started) * 1000

    steady = [one_batch() for _ in range(20)]
    loads: list[float] = []
    pauses: list[float] = []
    during: list[float] = []
    after: list[float] = []
    for swap in range(args.swaps):
        target = versions[(swap + 1) % 2]
        registry.promote(target, actor="bench")
        while models.state.version != target:
            during.append(one_batch())
        loads.append(models.state.last_load_ms or 0.0)
        pauses.append(models.state.last_pause_ms or 0.0)
        after.append(one_batch())
        steady += [one_batch() for _ in range(3)]
    worker.close()
    models.close()

    def show(name: str, values: list[float]) -> None:
        ordered = sorted(values)
        p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
        print(
            f"{name:<34} median {statistics.median(values):8.2f}  p95 {p95:8.2f}  n={len(values)}"
        )

    print(
        f"model artifact: {size:,} bytes; batches of {args.batch} transactions; {args.swaps} swaps"
    )
    show("background load (ms)", loads)
    show("swap pause between batches (ms)", pauses)
    show("steady batch (ms)", steady)
    show("batch while loading (ms)", during)
    show("first batch after a swap (ms)", after)


if __name__ == "__main__":
    main()
