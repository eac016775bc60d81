"""Connectivity checks behind `stream-sentinel check`: each returns PASS/FAIL with one reason."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from stream_sentinel.errors import SentinelError
from stream_sentinel.registry.client import SchemaRegistryClient
from stream_sentinel.state.base import Batch, Namespace, StateStore
from stream_sentinel.transport.base import Admin, Broker, TopicInfo, TopicPartition, TopicSpec
from stream_sentinel.transport.topics import LAYOUT, Topics, replication_for

SCRATCH_TOPIC = "_sentinel-check"
#: Kafka's own topics whose copies matter: group offsets and the transaction log.
INTERNAL_TOPICS = ("__consumer_offsets", "__transaction_state")


@dataclass(frozen=True, slots=True)
class CheckResult:
    name: str
    ok: bool
    detail: str


def guarded(name: str, check: Callable[[], str]) -> CheckResult:
    """Run one check; any error becomes a FAIL whose reason is the error's message."""
    try:
        return CheckResult(name, True, check())
    except (SentinelError, OSError, AssertionError) as exc:
        return CheckResult(name, False, str(exc) or type(exc).__name__)


def check_kafka(broker: Broker, admin: Admin, topics: Topics) -> list[CheckResult]:
    """Broker metadata, the topic layout, a produce->consume round trip, consumer-group lag."""
    metadata = guarded("kafka: broker metadata", lambda: _metadata(admin))
    if not metadata.ok:
        skipped = "skipped: the broker did not answer"
        return [metadata] + [
            CheckResult(f"kafka: {what}", False, skipped)
            for what in (
                "topics",
                "replication (ISR)",
                "produce/consume round trip",
                "consumer groups",
            )
        ]
    return [
        metadata,
        guarded("kafka: topics", lambda: _layout(admin, topics)),
        guarded("kafka: replication (ISR)", lambda: _replication(admin, topics)),
        guarded("kafka: produce/consume round trip", lambda: _round_trip(broker, admin, topics)),
        guarded("kafka: consumer groups", lambda: _group_lag(admin, topics)),
    ]


def _metadata(admin: Admin) -> str:
    info = admin.describe_cluster()
    return f"{info.brokers} broker(s), controller {info.controller_id}, cluster {info.cluster_id}"


def cluster_size(admin: Admin) -> int:
    """How many brokers the cluster has: the live ones, or more when a topic has replicas on
    brokers that are down (their replicas still count)."""
    live = admin.describe_cluster().brokers
    copies = [info.replication_factor for info in admin.describe_topics().values()]
    return max([live, *copies])


def layout_problems(admin: Admin, topics: Topics) -> list[str]:
    """How the broker's topics differ from the expected layout (empty when they match)."""
    replication = replication_for(cluster_size(admin))
    expected = topics.specs(replication)
    found = admin.describe_topics([spec.name for spec in expected])
    problems = []
    for spec in expected:
        info = found.get(spec.name)
        if info is None:
            problems.append(f"{spec.name} missing")
            continue
        if info.replication_factor < replication:
            problems.append(
                f"{spec.name} has {info.replication_factor} replica(s), expected {replication}"
            )
        if info.partitions != spec.partitions:
            problems.append(
                f"{spec.name} has {info.partitions} partitions, expected {spec.partitions}"
            )
        for key, value in spec.config.items():
            if info.config.get(key) != value:
                problems.append(f"{spec.name} {key}={info.config.get(key)}, expected {value}")
    return problems


def _layout(admin: Admin, topics: Topics) -> str:
    problems = layout_problems(admin, topics)
    if problems:
        raise AssertionError("; ".join(problems[:4]) + " (run: stream-sentinel topics create)")
    return f"all {len(LAYOUT)} topics present with the expected partitions and configs"


def replication_problems(found: dict[str, TopicInfo]) -> list[str]:
    """Partitions without a leader, or with fewer in-sync replicas than replicas."""
    problems = []
    for name, info in sorted(found.items()):
        if info.leaderless:
            problems.append(f"{name} partitions {list(info.leaderless)} have no leader (offline)")
        if info.under_replicated:
            least = min(info.in_sync[p] for p in info.under_replicated)
            needed = int(info.config.get("min.insync.replicas", "1"))
            writes = "writes still accepted" if least >= needed else "acks=all writes refused"
            problems.append(
                f"{name} partitions {list(info.under_replicated)} under-replicated (ISR down to"
                f" {least} of {info.replication_factor}, min.insync.replicas {needed}: {writes})"
            )
    return problems


def _replication(admin: Admin, topics: Topics) -> str:
    names = [spec.name for spec in topics.specs()] + list(INTERNAL_TOPICS)
    found = admin.describe_topics(names)
    problems = replication_problems(found)
    if problems:
        shown = "; ".join(problems[:3]) + (
            f"; and {len(problems) - 3} more" if len(problems) > 3 else ""
        )
        raise AssertionError(shown + " (is a broker down? stream-sentinel infra status)")
    partitions = sum(info.partitions for info in found.values())
    factors = sorted({str(info.replication_factor) for info in found.values()})
    in_sync = sorted({info.config.get("min.insync.replicas", "?") for info in found.values()})
    return (
        f"all {partitions} partitions of {len(found)} topics fully in sync (replication factor"
        f" {'/'.join(factors) or '-'}, min.insync.replicas {'/'.join(in_sync) or '-'})"
    )


def _round_trip(broker: Broker, admin: Admin, topics: Topics) -> str:
    topic = topics.name(SCRATCH_TOPIC)
    admin.create_topics([TopicSpec(topic, 1, {"retention.ms": "3600000"})])
    marker = uuid.uuid4().hex.encode()
    consumer = broker.consumer(None, low_latency=True)
    tp = TopicPartition(topic, 0)
    consumer.assign({tp: consumer.watermarks(tp)[1]})
    producer = broker.producer(low_latency=True)
    # Connect both clients first, so the figure is the round trip and not the start-up.
    producer.produce(topic, b"warm-up", b"check")
    producer.flush(10.0)
    consumer.consume(10, 1.0)
    started = time.perf_counter()
    producer.produce(topic, marker, b"check")
    if producer.flush(10.0):
        raise AssertionError("the scratch record was not delivered within 10 s")
    deadline = time.monotonic() + 10.0
    try:
        while time.monotonic() < deadline:
            if any(r.value() == marker for r in consumer.consume(10, 0.5)):
                elapsed_ms = (time.perf_counter() - started) * 1000
                return f"{topic}: record back in {elapsed_ms:.1f} ms"
    finally:
        consumer.close()
    raise AssertionError(f"the record produced to {topic} did not come back within 10 s")


def _group_lag(admin: Admin, topics: Topics) -> str:
    groups = admin.list_groups()
    if not groups:
        return "no consumer groups yet"
    parts = []
    for group in groups:
        committed = admin.group_offsets(group)
        committed = {tp: o for tp, o in committed.items() if tp.topic.startswith(topics.prefix)}
        if not committed:
            continue
        ends = admin.end_offsets(list(committed))
        lag = sum(max(ends[tp] - offset, 0) for tp, offset in committed.items())
        parts.append(f"{group} lag {lag}")
    return ", ".join(parts) or "no consumer groups on our topics yet"


def check_redis(store: StateStore) -> list[CheckResult]:
    """PING, a write/read/delete round trip, memory use against maxmemory, and AOF."""
    ping = guarded("redis: ping", lambda: _ping(store))
    if not ping.ok:
        skipped = "skipped: Redis did not answer"
        return [ping] + [
            CheckResult(f"redis: {what}", False, skipped)
            for what in ("write/read/delete", "memory", "persistence (AOF)")
        ]
    return [
        ping,
        guarded("redis: write/read/delete", lambda: _write_read_delete(store)),
        guarded("redis: memory", lambda: _memory(store)),
        guarded("redis: persistence (AOF)", lambda: _aof(store)),
    ]


def _ping(store: StateStore) -> str:
    started = time.perf_counter()
    if not store.ping():
        raise AssertionError("no answer to PING (is it running? stream-sentinel infra status)")
    return f"PONG in {(time.perf_counter() - started) * 1000:.1f} ms"


def _write_read_delete(store: StateStore) -> str:
    key, value = f"check:{uuid.uuid4().hex}", uuid.uuid4().bytes
    replies = store.execute(
        Batch()
        .set(Namespace.PIPELINE, key, value, ttl_ms=60_000)
        .get(Namespace.PIPELINE, key)
        .delete(Namespace.PIPELINE, key)
        .exists(Namespace.PIPELINE, key)
    )
    if replies[1] != value or replies[3]:
        raise AssertionError(f"read back {replies[1]!r} after writing {value!r}")
    return "wrote, read back and deleted a key"


def _memory(store: StateStore) -> str:
    info = store.info()
    if info.maxmemory == 0:
        limit = "no maxmemory limit"
    else:
        limit = f"of {info.maxmemory / 2**20:.0f} MiB ({info.used_memory / info.maxmemory:.1%})"
    detail = f"{info.used_memory / 2**20:.1f} MiB used {limit}, policy {info.maxmemory_policy}"
    if info.maxmemory_policy.startswith("allkeys"):
        raise AssertionError(detail + ": allkeys-* could evict control state; use volatile-lru")
    return detail


def _aof(store: StateStore) -> str:
    info = store.info()
    if not info.aof_enabled:
        raise AssertionError("appendonly is off: a restart would lose state (set appendonly yes)")
    return f"appendonly yes (Redis {info.version})"


def check_registry(registry: SchemaRegistryClient, topics: Topics) -> list[CheckResult]:
    """The registry answers, and which of our contracts it holds."""
    return [guarded("registry: subjects", lambda: _subjects(registry, topics))]


def _subjects(registry: SchemaRegistryClient, topics: Topics) -> str:
    started = time.perf_counter()
    subjects = registry.subjects()
    elapsed_ms = (time.perf_counter() - started) * 1000
    ours = [s for s in subjects if s.startswith(topics.prefix) and s.endswith("-value")]
    hint = "" if ours else " (stream-sentinel schemas register adds ours)"
    return f"answered in {elapsed_ms:.1f} ms: {len(subjects)} subject(s), {len(ours)} of ours{hint}"
