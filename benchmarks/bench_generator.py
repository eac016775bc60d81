"""How fast the generator can go: records/s from the simulator alone, to files, and to Kafka.

    .venv/bin/python benchmarks/bench_generator.py            # simulator, files, Kafka if up
    .venv/bin/python benchmarks/bench_generator.py --stack    # also start a private stack
    .venv/bin/python benchmarks/bench_generator.py --count 2000000 --users 1000000

Kafka is measured against the configured broker (SENTINEL_KAFKA_BOOTSTRAP, registry at
SENTINEL_REGISTRY_URL) when it answers; ``--stack`` starts a throw-away stack on free ports with
the project's launcher and stops it afterwards. Targets on a 2-core machine: >= 200,000 records/s
to a CSV file, >= 100,000 records/s to Kafka (acks=all, lz4, the project's producer settings).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import socket
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from stream_sentinel.clock import SYSTEM_CLOCK
from stream_sentinel.config import Settings, load_settings
from stream_sentinel.generator import SimulationConfig, Simulator
from stream_sentinel.generator.file_sink import FileSink
from stream_sentinel.generator.run import GenerationRun, RunLimits
from stream_sentinel.generator.sinks import Sink
from stream_sentinel.generator.timing import TokenBucket

BATCH = 16_384


def measure(label: str, count: int, users: int, make_sink: Callable[[Simulator], Sink]) -> dict:
    simulator = Simulator(SimulationConfig(users=users, fraud_rate=0.01), seed=1)
    sink = make_sink(simulator)
    bucket = TokenBucket(0, 1, SYSTEM_CLOCK)
    run = GenerationRun(simulator, sink, bucket, SYSTEM_CLOCK, time.sleep, RunLimits(count=count))
    started = time.perf_counter()
    outcome = run.run()  # includes the final flush (Kafka: every record acknowledged)
    elapsed = time.perf_counter() - started
    result = {
        "target": label,
        "records": outcome.sent,
        "seconds": round(elapsed, 3),
        "records_per_s": round(outcome.sent / elapsed),
        "delivery_errors": outcome.delivery.errors,
    }
    print(
        f"{label:<28}{outcome.sent:>12,} records {elapsed:8.2f}s {result['records_per_s']:>12,}/s"
        f"   delivery errors {outcome.delivery.errors}"
    )
    return result


def simulator_only(count: int, users: int) -> dict:
    simulator = Simulator(SimulationConfig(users=users, fraud_rate=0.01), seed=1)
    started = time.perf_counter()
    made = 0
    while made < count:
        made += len(simulator.next_batch(min(BATCH, count - made)))
        simulator.labels_due(simulator.now_ms)
    elapsed = time.perf_counter() - started
    print(
        f"{'simulator (no output)':<28}{made:>12,} records {elapsed:8.2f}s "
        f"{round(made / elapsed):>12,}/s"
    )
    return {
        "target": "simulator",
        "records": made,
        "seconds": round(elapsed, 3),
        "records_per_s": round(made / elapsed),
    }


def file_sink_factory(path: Path) -> Callable[[Simulator], Sink]:
    return lambda simulator: FileSink(path, simulator.id_prefix)


def kafka_reachable(settings: Settings) -> bool:
    from stream_sentinel.ops.preflight import kafka_answers

    return kafka_answers(settings, 3.0)


def kafka_sink_factory(settings: Settings) -> Callable[[Simulator], Sink]:
    from stream_sentinel.clients.registry import connect_registry
    from stream_sentinel.generator.kafka_sink import BrokerSink
    from stream_sentinel.transport.kafka import KafkaBroker
    from stream_sentinel.wire.serde import Serde

    def make(simulator: Simulator) -> Sink:
        serde = Serde.from_settings(settings, connect_registry(settings.registry))
        broker = KafkaBroker(settings.kafka)
        return BrokerSink(broker, serde, simulator.population, simulator.id_prefix)

    return make


def _free_ports(count: int) -> list[int]:
    with contextlib.ExitStack() as held:
        sockets = [held.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]


@contextlib.contextmanager
def private_stack(state_dir: Path) -> Iterator[Settings]:
    """Kafka + Redis + registry on free ports, started and stopped by the project's launcher."""
    from stream_sentinel.infra.stack import Stack

    kafka, controller, redis, registry = _free_ports(4)
    settings = load_settings(
        overrides={
            "kafka": {"bootstrap": f"127.0.0.1:{kafka}"},
            "redis": {"url": f"redis://127.0.0.1:{redis}"},
            "registry": {"url": f"http://127.0.0.1:{registry}"},
            "infra": {"state_dir": state_dir, "controller_port": controller},
        }
    )
    stack = Stack(settings)
    try:
        stack.up()
        yield settings
    finally:
        stack.down()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--stack", action="store_true", help="start a private Kafka stack")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    results = [simulator_only(args.count, args.users)]
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("tx.csv", "tx.jsonl", "tx.csv.gz"):
            path = Path(tmp) / name
            results.append(
                measure(
                    f"file {name}",
                    args.count,
                    args.users,
                    file_sink_factory(path),
                )
            )
            path.unlink()
        with contextlib.ExitStack() as stack:
            settings = (
                stack.enter_context(private_stack(Path(tmp) / "stack"))
                if args.stack
                else load_settings()
            )
            if kafka_reachable(settings):
                results.append(
                    measure(
                        f"kafka {settings.kafka.bootstrap}",
                        args.count,
                        args.users,
                        kafka_sink_factory(settings),
                    )
                )
            else:
                print(
                    f"kafka: skipped (no broker answers at {settings.kafka.bootstrap}; "
                    "use --stack or `stream-sentinel infra up`)"
                )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
