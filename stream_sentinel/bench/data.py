"""The benchmark's data: transactions from the generator, and a model trained on generated history.

Transactions go through the generator's own Kafka path (columnar Avro encoding, key = user_id,
the project's producer settings), exactly what `stream-sentinel generate` sends. Labels are left
out: the benchmark measures the transaction path, and labels arrive days later in real life.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from stream_sentinel.clients.backends import RealClients
from stream_sentinel.clock import SYSTEM_CLOCK
from stream_sentinel.config import Settings
from stream_sentinel.errors import SentinelError
from stream_sentinel.generator import SimulationConfig, Simulator
from stream_sentinel.generator.batch import FeedbackBatch
from stream_sentinel.generator.kafka_sink import BrokerSink
from stream_sentinel.generator.request import GenerateRequest
from stream_sentinel.generator.run import GenerationRun, RunLimits, RunOutcome
from stream_sentinel.generator.sinks import ForwardingSink
from stream_sentinel.generator.timing import TokenBucket
from stream_sentinel.learning.model_events import Announcer
from stream_sentinel.learning.models import draft_of
from stream_sentinel.learning.registry import ModelRegistry
from stream_sentinel.scoring.workflow import train_from_records
from stream_sentinel.transport.topics import Topics
from stream_sentinel.wire import records as avro_records
from stream_sentinel.wire.serde import Serde

FRAUD_RATE = 0.01
MODEL_HISTORY = 40_000
MODEL_USERS = 10_000
MODEL_SEED = 20261126
DAY_MS = 86_400_000


class PreloadFailed(SentinelError):
    """The generator could not deliver every transaction."""


class TransactionsOnly(ForwardingSink):
    """A sink that passes transactions to ``inner`` and drops the labels the generator releases."""

    writes_labels = False

    def write_labels(self, labels: FeedbackBatch) -> None:
        return None


@dataclass(frozen=True, slots=True)
class Preloaded:
    count: int
    users: int
    seconds: float

    def as_dict(self) -> dict[str, float | int]:
        rate = self.count / self.seconds if self.seconds > 0 else 0.0
        return {
            "count": self.count,
            "users": self.users,
            "seconds": round(self.seconds, 3),
            "generator_tps": round(rate),
        }


def generate(
    settings: Settings, users: int, seed: int, rate: float, count: int | None, duration_s: float
) -> RunOutcome:
    """Run the generator into the workspace's ``transactions`` (rate 0: as fast as it can)."""
    request = GenerateRequest(
        rate=rate,
        count=count,
        duration=None if count else f"{duration_s}s",
        users=users,
        fraud_rate=FRAUD_RATE,
        seed=seed,
    )
    request.validate()
    simulator = Simulator(request.simulation_config(request.plan(SYSTEM_CLOCK.now_ms())), seed)
    clients = RealClients(settings)
    serde = Serde.from_settings(settings, clients.registry())
    sink = TransactionsOnly(
        BrokerSink(clients.broker(), serde, simulator.population, simulator.id_prefix)
    )
    bucket = TokenBucket(rate, burst=max(rate / 10, 1.0), clock=SYSTEM_CLOCK)
    limits = RunLimits(count=count, duration_s=None if count else duration_s)
    run = GenerationRun(simulator, sink, bucket, SYSTEM_CLOCK, time.sleep, limits)
    return run.run()


def preload(settings: Settings, count: int, users: int, seed: int) -> Preloaded:
    """``count`` transactions of ``users`` users in ``transactions``, every one acknowledged."""
    started = time.perf_counter()
    outcome = generate(settings, users, seed, 0.0, count, 0.0)
    seconds = time.perf_counter() - started
    delivered = outcome.delivery.transactions
    if outcome.delivery.errors or delivered != count:
        raise PreloadFailed(
            f"the generator delivered {delivered:,} of {count:,} transactions "
            f"({outcome.delivery.errors} errors, last: {outcome.delivery.last_error})"
        )
    return Preloaded(delivered, users, seconds)


#: The registry alias the benchmark's detectors score with (never the stack's champion).
BENCH_ALIAS = "bench"


def train_model(settings: Settings) -> str:
    """A model trained on generated history (fixed seed, so every run scores with the same
    kind of model), registered in the stack's model registry and pointed at by the ``bench``
    alias (the stack's champion is left alone); returns its version."""
    simulator = Simulator(SimulationConfig(users=MODEL_USERS, fraud_rate=FRAUD_RATE), MODEL_SEED)
    batch = simulator.next_batch(MODEL_HISTORY)
    history = [avro_records.to_dict(tx) for tx in simulator.transactions(batch)]
    labels = batch.is_fraud.astype(int).tolist()
    artifact, _ = train_from_records(history, labels, DAY_MS, settings, holdout=0.2)
    clients = RealClients(settings)
    store, broker = clients.state(), clients.broker()
    try:
        serde = Serde.from_settings(settings, clients.registry())
        announcer = Announcer(broker, serde, Topics.from_settings(settings))
        announcer.prepare()
        registry = ModelRegistry(store, announce=announcer)
        version, _ = registry.register(*draft_of(artifact, DAY_MS, tags={"purpose": "bench"}))
        if registry.alias_state(BENCH_ALIAS)[0] != version.version:
            registry.promote(version.version, BENCH_ALIAS, "the benchmark's model", "bench")
    finally:
        store.close()
        broker.close()
    return version.version
