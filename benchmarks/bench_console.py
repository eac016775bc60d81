"""The console's page times on a real stack holding many users and records.

Run: ``.venv/bin/python -m benchmarks.bench_console [--users N] [--records N] [--requests N]``.
It starts a private stack (Kafka, Redis, registry on free ports, data in a temp dir), loads
``--users`` profiles into Redis and ``--records`` Transactions into ``transactions`` (one encoded
Transaction re-keyed per user: the console's reads cost the same whatever the fields hold),
seeds the small pipeline of the tests (alerts, cases, scores), runs `drift run` over the Drift
page's browser-test feature log (8,412 rows: eight checked windows, four alarms; DB4 as the
service writes it), writes the Experiments browser test's running split (DB5) and then times
every page and JSON endpoint in process (FastAPI's TestClient over the real clients: no network
hop for HTTP, real round trips to Kafka, Redis and the registry). Prints per path the first
request's time (cold) and the median and p95 of the others, in ms. The console runs without its
sampling thread, so each overview request takes a sample first (as the tests do): the
overview's figure includes the sampler's work.
It measures this machine; it is not a test and asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from fastapi.testclient import TestClient

from stream_sentinel.clients.backends import RealClients
from stream_sentinel.clock import SYSTEM_CLOCK
from stream_sentinel.config import Settings, load_settings
from stream_sentinel.console.app import create_app
from stream_sentinel.console.settings import load_console_settings
from stream_sentinel.console.users import UserBook
from stream_sentinel.infra.process import free_ports
from stream_sentinel.infra.stack import Stack
from stream_sentinel.learning.experiments.store import ExperimentStore
from stream_sentinel.logic import profile as layout
from stream_sentinel.state import keys
from stream_sentinel.state.base import Batch
from stream_sentinel.transport.base import TopicPartition
from stream_sentinel.wire import records
from stream_sentinel.wire.serde import Serde
from tests.console_support import PAGES, profile_blob, transaction
from tests.e2e.console_stack import SENTINEL, seed_stack
from tests.e2e.drift_rows import DRIFT_ENV, produce_feature_log
from tests.integration.stacks import cli_env
from tests.unit.test_console_experiments import running_split

GROUP = "fraud-detection-group"  # 2,000,000 records behind: no detector ran
#: Pages added after the first run, and their JSON twins (``{since}`` and ``{cursor}`` are
#: filled in once the records are loaded).
LATER = [
    f"/kafka/groups/{GROUP}",
    f"/api/kafka/groups/{GROUP}",
    f"/api/kafka/groups/{GROUP}/series",
    "/api/overview/series",
    "/kafka/topics/transactions?since={since}",
    "/api/kafka/topics/transactions/messages?since={since}",
    "/api/kafka/topics/transactions/tail",
    "/api/kafka/topics/transactions/tail?after={cursor}",
    "/experiments/exp-split",
    "/api/experiments",
    "/api/experiments/exp-split",
]
JSON = [
    "/api/overview",
    "/api/kafka",
    "/api/kafka/topics/transactions/messages",
    "/api/kafka/topics/transactions/messages?key=u-crit",
    "/api/schemas",
    "/api/redis",
    "/api/redis/profiles/keys?pattern=user:*",
    "/api/redis/profiles/keys?pattern=user:12345*",
    "/api/redis/profiles/keys?pattern=user:12345",
    "/api/cases",
    "/api/drift",
    "/api/drift/m-bench/series",
    "/api/trace/tx-crit?user_id=u-crit",
    "/api/trace/tx-crit",
]
CHUNK = 10_000


def stack_settings(state_dir: Path) -> Settings:
    kafka, controller, redis, registry = free_ports(4)
    return load_settings(
        "test",
        environ={},
        overrides={
            "kafka": {"bootstrap": f"127.0.0.1:{kafka}"},
            "redis": {"url": f"redis://127.0.0.1:{redis}"},
            "registry": {"url": f"http://127.0.0.1:{registry}"},
            "infra": {"state_dir": state_dir, "controller_port": controller},
        },
    )


def load_profiles(settings: Settings, users: int) -> None:
    store = RealClients(settings).state()
    blob = profile_blob(int(time.time() * 1000))
    for start in range(0, users, CHUNK):
        names = [keys.user_profile(str(n)) for n in range(start, min(start + CHUNK, users))]
        store.execute(
            Batch().set_many(
                keys.PROFILES, names, blob * len(names), layout.PROFILE_SIZE, 7 * 86_400_000
            )
        )
    store.close()


def load_transactions(settings: Settings, count: int, users: int) -> None:
    clients = RealClients(settings)
    encode = Serde.from_settings(settings, clients.registry()).encoder("transactions")
    value = encode(records.to_dict(transaction("tx-bench", "0", int(time.time() * 1000))))
    producer = clients.broker().producer()
    for n in range(count):
        producer.produce("transactions", value, str(n % users).encode())
        if n % 50_000 == 0:
            producer.poll(0)
    assert producer.flush(120) == 0
    producer.close()


def seed_drift(settings: Settings) -> None:
    """The drift service's own DB4 writes, from a feature log of model version ``m-bench``."""
    produce_feature_log(settings, "m-bench")
    subprocess.run(
        [*SENTINEL, "drift", "run", "--until-idle", "5"],
        env={**cli_env(settings), **DRIFT_ENV},
        check=True,
        stdout=subprocess.DEVNULL,
        timeout=300,
    )


def seed_experiment(settings: Settings) -> None:
    """The Experiments browser test's running split (10,000 rows per arm, its evidence trail)."""
    state = RealClients(settings).state()
    try:
        running_split(state, ExperimentStore(state, SYSTEM_CLOCK))
    finally:
        state.close()


def filled(paths: list[str], settings: Settings, since_ms: int) -> list[str]:
    """``{since}``: a time in the middle of the load; ``{cursor}``: 50 records before each
    partition's end (what a tail that fell 50 records behind asks for)."""
    admin = RealClients(settings).admin()
    partitions = admin.describe_topics(["transactions"])["transactions"].partitions
    ends = admin.end_offsets([TopicPartition("transactions", p) for p in range(partitions)])
    admin.close()
    cursor = ",".join(f"{tp.partition}:{max(end - 50, 0)}" for tp, end in sorted(ends.items()))
    return [p.format(since=since_ms, cursor=cursor) for p in paths]


def time_paths(client: TestClient, paths: list[str], requests: int) -> None:
    """Per path: the first request (cold: clients, schemas, the oldest unread records' reads),
    then the median and p95 of ``requests`` more."""
    print(f"{'path':<70}{'first ms':>10}{'median ms':>10}{'p95 ms':>10}")
    for path in paths:
        start = time.perf_counter()
        cold = client.get(path)
        first = (time.perf_counter() - start) * 1000
        assert cold.status_code == 200, (path, "cold", cold.status_code, cold.text[:200])
        spent = []
        for _ in range(requests):
            start = time.perf_counter()
            reply = client.get(path)
            spent.append((time.perf_counter() - start) * 1000)
            assert reply.status_code == 200, (path, reply.status_code, reply.text[:200])
        p95 = statistics.quantiles(spent, n=20)[-1]
        shown = path if len(path) <= 68 else path[:66] + "…"
        print(f"{shown:<70}{first:>10.1f}{statistics.median(spent):>10.1f}{p95:>10.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--records", type=int, default=2_000_000)
    parser.add_argument("--requests", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as state_dir:
        settings = stack_settings(Path(state_dir))
        stack = Stack(settings)
        stack.up()
        try:
            seed_stack(settings)
            seed_drift(settings)
            seed_experiment(settings)
            started = time.perf_counter()
            load_profiles(settings, args.users)
            half_ms = int(time.time() * 1000)
            load_transactions(settings, args.records, args.users)
            loaded_s = time.perf_counter() - started
            since_ms = (half_ms + int(time.time() * 1000)) // 2
            print(
                f"loaded {args.users:,} profiles, {args.records:,} transactions in {loaded_s:.0f} s"
            )
            print(f"load average before timing: {os.getloadavg()}")
            console = load_console_settings({"SENTINEL_CONSOLE_SAMPLE_INTERVAL_S": "0"})
            app = create_app(RealClients(settings), settings, console, UserBook())
            with TestClient(app, base_url="http://127.0.0.1") as client:
                paths = [*PAGES, *JSON, *filled(LATER, settings, since_ms)]
                time_paths(client, paths, args.requests)
            print(f"load average after timing: {os.getloadavg()}")
        finally:
            stack.down()


if __name__ == "__main__":
    main()
