"""Every console page and JSON endpoint on the real stack (Kafka, Redis, our registry)."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from fastapi.testclient import TestClient

from stream_sentinel.clients.backends import RealClients
from stream_sentinel.clock import ManualClock
from stream_sentinel.config import Settings
from stream_sentinel.console.app import create_app
from stream_sentinel.console.settings import load_console_settings
from stream_sentinel.console.users import UserBook
from stream_sentinel.learning.registry import ModelRegistry
from stream_sentinel.learning.versions import FeatureSet, ModelDraft, TrainingWindow
from stream_sentinel.state.base import Batch
from stream_sentinel.state.base import Namespace as NS
from stream_sentinel.state.redis import RedisStateStore
from stream_sentinel.transport.base import TopicSpec
from stream_sentinel.transport.kafka import KafkaBroker
from stream_sentinel.transport.topics import Topics
from stream_sentinel.wire import records
from tests.console_support import PAGES, Seeded, csrf_of
from tests.contract.broker_contract import NewTopic
from tests.contract.console_reads_contract import ConsoleReadsContract
from tests.contract.store_stats_contract import StoreStatsContract, seed
from tests.e2e.console_stack import seed_stack

pytestmark = pytest.mark.integration

JSON = [
    "/api/overview",
    "/api/overview/series",
    "/api/kafka",
    "/api/kafka/topics/fraud-alerts/messages",
    "/api/schemas",
    "/api/redis",
    "/api/redis/pipeline/keys?pattern=*",
    "/api/redis/profiles/key?key=user:u-crit",
    "/api/alerts",
    "/api/cases",
    "/api/drift",
    "/api/cases/al-crit",
    "/api/trace/tx-crit?user_id=u-crit",
    "/api/audit",
    "/api/models",
    "/api/models/champion",
    "/api/kafka/groups/console-fraud-detection-group",
    "/api/kafka/groups/console-fraud-detection-group/series",
    "/api/kafka/topics/transactions/tail",
]
GROUP = "console-fraud-detection-group"  # of its own: the session stack is shared


@pytest.fixture(scope="module")
def real(stack_settings: Settings) -> Iterator[tuple[TestClient, Settings, Seeded]]:
    settings = stack_settings.with_overrides(
        kafka={"topic_prefix": "console-"},
        redis={"key_namespace": "console"},
        detector={"group_id": GROUP},
    )
    seeded = seed_stack(settings)
    register_models(RealClients(settings))
    console = load_console_settings({"SENTINEL_CONSOLE_SAMPLE_INTERVAL_S": "0"})
    app = create_app(RealClients(settings), settings, console, UserBook())
    with TestClient(app, base_url="http://127.0.0.1") as client:
        yield client, settings, seeded


def register_models(clients: RealClients) -> tuple[str, str]:
    """Two versions in the registry on Redis, the second the first's child and champion."""
    registry = ModelRegistry(clients.state())
    window = TrainingWindow(1, 2, 3, 4, 800, 40, 86_400_000)
    draft = ModelDraft(
        "lightgbm",
        FeatureSet.of("live", ("amount",)),
        window,
        {"num_leaves": 15},
        {"roc_auc": 0.97, "average_precision": 0.6, "bands": {}},
        {"HIGH": 0.8},
        "train",
    )
    first, _ = registry.register(draft, b"tree one\n")
    second, _ = registry.register(ModelDraft.of(first, parent=first.version), b"tree two\n")
    if registry.aliases().get("champion") != second.version:
        registry.promote(second.version, "champion", "integration", "test")
    return first.version, second.version


@pytest.mark.parametrize(
    "path", [p.replace("transactions-value", "console-transactions-value") for p in PAGES]
)
def test_every_page_renders_on_the_real_stack(
    real: tuple[TestClient, Settings, Seeded], path: str
) -> None:
    client, _, _ = real
    reply = client.get(path)
    assert reply.status_code == 200, reply.text


@pytest.mark.parametrize("path", JSON)
def test_every_json_endpoint_answers_on_the_real_stack(
    real: tuple[TestClient, Settings, Seeded], path: str
) -> None:
    client, _, _ = real
    reply = client.get(path)
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"] == "application/json"


def test_the_real_browser_decodes_and_traces_what_the_pipeline_wrote(
    real: tuple[TestClient, Settings, Seeded],
) -> None:
    client, _, seeded = real
    [record] = client.get(
        "/api/kafka/topics/transactions/messages", params={"key": "u-crit"}
    ).json()["records"]
    assert record["value"] == records.to_dict(seeded.transaction)
    trace = client.get("/api/trace/tx-crit").json()
    assert (trace["user_id"], trace["alert"]["value"]["alert_id"]) == ("u-crit", "al-crit")
    assert trace["score"]["value"]["decision"] == "DECLINE"
    kafka = client.get("/api/kafka").json()
    topics = {t["logical"]: t for t in kafka["topics"]}
    assert topics["transactions"]["problems"] == [] and topics["transactions"]["partitions"] == 12
    assert kafka["cluster"]["brokers"] == 1
    subjects = [s["subject"] for s in client.get("/api/schemas").json()["subjects"]]
    assert "console-transactions-value" in subjects
    assert client.get("/api/redis").json()["info"]["backend"] == "redis"


def test_resolving_on_the_real_stack_closes_the_case(
    real: tuple[TestClient, Settings, Seeded],
) -> None:
    client, _, _ = real
    token = csrf_of(client.get("/cases/al-high").text)
    reply = client.post(
        "/cases/al-high/resolve",
        data={"csrf_token": token, "label": "legit"},
        follow_redirects=False,
    )
    assert reply.status_code == 303
    case = client.get("/api/cases/al-high").json()
    assert (case["case"], case["label"]) == ("closed", "LEGIT")
    feedback = client.get(
        "/api/kafka/topics/fraud-feedback/messages", params={"key": "u-high"}
    ).json()["records"]
    assert [(r["value"]["label"], r["value"]["source"]) for r in feedback] == [("LEGIT", "ANALYST")]


def test_the_models_pages_read_the_registry_on_redis(
    real: tuple[TestClient, Settings, Seeded],
) -> None:
    client, settings, _ = real
    first, second = register_models(RealClients(settings))  # registered: the same versions
    models = client.get("/api/models").json()
    assert {v["version"] for v in models["versions"]} == {first, second}
    assert models["aliases"] == {"champion": second}
    model = client.get("/api/models/champion").json()
    assert (model["version"], model["parent"]) == (second, first)
    assert client.get(f"/models/{second}").status_code == 200


def _records(client: TestClient, **params: str) -> list[dict[str, Any]]:
    reply = client.get("/api/kafka/topics/transactions/messages", params=params)
    assert reply.status_code == 200, reply.text
    found: list[dict[str, Any]] = reply.json()["records"]
    return found


def test_a_group_member_its_partitions_and_lag_seconds_on_real_kafka(
    real: tuple[TestClient, Settings, Seeded],
) -> None:
    _, settings, _ = real
    topic = Topics.from_settings(settings).transactions
    member = KafkaBroker(settings.kafka).consumer(GROUP)
    member.subscribe([topic])
    deadline = time.monotonic() + 60
    while len(member.assignment()) < 12 and time.monotonic() < deadline:
        member.consume(100, 0.2)  # reads, commits nothing
    assert len(member.assignment()) == 12
    member_id = member.group_metadata().member_id
    try:
        with _client_at(settings, 0) as probe:
            written = _records(probe)  # nothing of the topic is committed by the group
            oldest = min(int(r["timestamp"]) for r in written)
        with _client_at(settings, oldest + 42_000) as client:
            group = client.get(f"/api/kafka/groups/{GROUP}").json()
            page = client.get(f"/kafka/groups/{GROUP}").text
            client.app.state.console.sampler.sample()
            series = client.get(f"/api/kafka/groups/{GROUP}/series").json()
    finally:
        member.close()
    assert (group["state"], group["total_lag"]) == ("stable", len(written))
    [seen] = group["members"]
    assert seen["member_id"] == member_id
    assert (seen["client_id"], seen["partitions"]) == (settings.kafka.client_id, list(range(12)))
    assert seen["host"].startswith("/")  # Kafka's form: /address
    assert group["lag_seconds"] == 42.0
    assert (series["lag"], series["lag_seconds"]) == ([len(written)], [42.0])
    behind = {r["partition"] for r in written}
    assert sorted(p["partition"] for p in group["partitions"] if p["lag"]) == sorted(behind)
    assert {p["member_id"] for p in group["partitions"]} == {seen["member_id"]}
    assert f"<td>{seen['member_id']}</td><td>{settings.kafka.client_id}</td>" in page


@contextmanager
def _client_at(settings: Settings, now_ms: int) -> Iterator[TestClient]:
    """The console on the real stack with its clock stopped at ``now_ms``."""
    console = load_console_settings({"SENTINEL_CONSOLE_SAMPLE_INTERVAL_S": "0"})
    app = create_app(RealClients(settings), settings, console, UserBook(), ManualClock(now_ms))
    with TestClient(app, base_url="http://127.0.0.1") as client:
        yield client


def test_browsing_from_a_time_and_tailing_on_real_kafka(
    real: tuple[TestClient, Settings, Seeded],
) -> None:
    client, settings, _ = real
    newest = _records(client)
    times = sorted(int(r["timestamp"]) for r in newest)
    since = _records(client, since=str(times[0]))
    assert [r["value"]["transaction_id"] for r in since] == [
        r["value"]["transaction_id"]
        for r in sorted(newest, key=lambda r: (r["timestamp"], r["partition"], r["offset"]))
    ]
    assert _records(client, since=str(times[-1] + 1)) == []
    path = "/api/kafka/topics/transactions/tail"
    start = client.get(path).json()
    assert start["records"] == []
    producer = KafkaBroker(settings.kafka).producer()
    producer.produce(Topics.from_settings(settings).transactions, b'{"tail": 1}', b"u-tail")
    assert producer.flush(30) == 0
    producer.close()
    tailed = client.get(path, params={"after": start["after"]}).json()
    assert [(r["key"], r["value"]) for r in tailed["records"]] == [("u-tail", {"tail": 1})]
    assert client.get(path, params={"after": tailed["after"]}).json()["records"] == []


class TestKafkaConsoleReads(ConsoleReadsContract):
    def host_ok(self, host: str) -> bool:
        return host.startswith("/")

    @pytest.fixture
    def client_id(self, settings: Settings) -> str:
        return settings.kafka.client_id

    @pytest.fixture
    def broker(self, settings: Settings) -> KafkaBroker:
        return KafkaBroker(settings.kafka)

    @pytest.fixture
    def new_topic(self, broker: KafkaBroker, settings: Settings) -> NewTopic:
        names = itertools.count()

        def create(partitions: int) -> str:
            name = f"{settings.kafka.topic_prefix}reads-{next(names)}"
            broker.admin().create_topics([TopicSpec(name, partitions)])
            return name

        return create


class TestRedisStoreStats(StoreStatsContract):
    """The figures under this test's key namespace (the session's Redis is shared)."""

    @pytest.fixture
    def clock(self) -> None:
        return None

    @pytest.fixture
    def store(self, settings: Settings) -> Iterator[RedisStateStore]:
        store = RedisStateStore(settings.redis)
        yield store
        store.clear()
        store.close()


@pytest.fixture
def own_console(settings: Settings) -> Iterator[tuple[TestClient, RedisStateStore]]:
    """A console on this test's key namespace, and the store to write into it."""
    console = load_console_settings({"SENTINEL_CONSOLE_SAMPLE_INTERVAL_S": "0"})
    store = RedisStateStore(settings.redis)
    app = create_app(RealClients(settings), settings, console, UserBook())
    with TestClient(app, base_url="http://127.0.0.1") as client:
        yield client, store
    store.clear()
    store.close()


def test_the_redis_figures_on_real_redis(
    own_console: tuple[TestClient, RedisStateStore], settings: Settings
) -> None:
    client, store = own_console
    seed(store)
    redis = client.get("/api/redis").json()
    assert [(n["name"], n["keys"], n["expires"]) for n in redis["namespaces"]] == [
        ("profiles", 3, 2),
        ("pipeline", 2, 0),
        ("feedback", 1, 1),
        ("models", 0, 0),
        ("drift", 0, 0),
        ("experiments", 0, 0),
    ]
    stats = redis["stats"]
    assert stats["key_namespace"] == settings.redis.key_namespace
    assert stats["connected_clients"] >= 1  # the console's own connection at least
    assert stats["ops_per_sec"] >= 0 and 0.0 <= stats["hit_rate"] <= 1.0
    assert stats["evicted_keys"] >= 0 and stats["expired_keys"] >= 0
    assert redis["slowlog"]["available"] is True
    # fewer keys than the sample: each database measured whole, MEMORY USAGE key by key
    for figure in redis["memory"]:
        ns = NS(figure["db"])
        names = list(store.scan(ns))
        sizes = store.execute(_memory_usage(ns, names)) if names else []
        assert all(size > 0 for size in sizes)
        assert (figure["bytes"], figure["measured"], figure["whole"]) == (
            sum(sizes),
            len(names),
            True,
        )
    page = client.get("/redis").text
    assert "not available" not in page
    scope = f"Keys under the key namespace <code>{settings.redis.key_namespace}</code> only."
    assert scope in page


def _memory_usage(ns: NS, names: list[str]) -> Batch:
    batch = Batch()
    for name in names:
        batch.memory_usage(ns, name)
    return batch


def test_hits_and_misses_count_this_store_s_lookups(
    own_console: tuple[TestClient, RedisStateStore],
) -> None:
    _, store = own_console
    seed(store)
    before = store.stats()  # INFO first, then one PTTL (a hit) for each of the 6 keys
    store.execute(Batch().get(NS.PROFILES, "user:1").get(NS.PROFILES, "user:missing"))
    after = store.stats()
    assert before.keyspace_hits is not None and before.keyspace_misses is not None
    assert (after.keyspace_hits, after.keyspace_misses) == (
        before.keyspace_hits + 6 + 1,
        before.keyspace_misses + 1,
    )


def test_the_slowlog_on_real_redis_masks_values_and_secrets(
    own_console: tuple[TestClient, RedisStateStore], settings: Settings
) -> None:
    client, store = own_console
    server = store.client
    threshold = server.config_get("slowlog-log-slower-than")["slowlog-log-slower-than"]
    client.get("/api/redis")  # the console's connections open before the log takes everything
    try:
        server.config_set("slowlog-log-slower-than", 0)  # log every command
        store.execute(Batch().set(NS.PROFILES, "user:secretive", b"hunter2-profile"))
        server.config_get("requirepass")
        slowlog = client.get("/api/redis").json()["slowlog"]
    finally:
        server.config_set("slowlog-log-slower-than", threshold)
    assert server.config_get("slowlog-log-slower-than")["slowlog-log-slower-than"] == threshold
    commands = [e["command"] for e in slowlog["entries"]]
    ids = [e["id"] for e in slowlog["entries"]]
    assert ids == sorted(ids, reverse=True) and len(ids) <= 25
    key = f"{settings.redis.key_namespace}:user:secretive"
    assert ["SET", key, "<15 bytes>"] in commands
    assert ["CONFIG"] in commands
    assert "hunter2" not in repr(slowlog)
