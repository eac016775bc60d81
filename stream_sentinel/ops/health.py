"""Connectivity checks behind `stream-sentinel check`: each returns PASS/FAIL with one reason."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from stream_sentinel.errors import SentinelError
from stream_sentinel.registry.client import SchemaRegistryClient
from stream_sentinel.state.base import Batch, Namespace, StateStore
from stream_sentinel.transport.base import Admin, Broker, TopicPartition, TopicSpec
from stream_sentinel.transport.topics import LAYOUT, Topics

SCRATCH_TOPIC = "_sentinel-check"


@dataclass(frozen=True, slots=True)
class CheckResult:
    name: str
    ok: bool
    detail: str


def _guarded(name: str, check: Callable[[], str]) -> CheckResult:
    """Run one check; any error becomes a FAIL whose reason is the error's message."""
    try:
        return CheckResult(name, True, check())
    except (SentinelError, OSError, AssertionError) as exc:
        return CheckResult(name, False, str(exc) or type(exc).__name__)


def check_kafka(broker: Broker, admin: Admin, topics: Topics) -> list[CheckResult]:
    """Broker metadata, the topic layout, a produce->consume round trip, consumer-group lag."""
    metadata = _guarded("kafka: broker metadata", lambda: _metadata(admin))
    if not metadata.ok:
        skipped = "skipped: the broker did not answer"
        return [metadata] + [
            CheckResult(f"kafka: {what}", False, skipped)
            for what in ("topics", "produce/consume round trip", "consumer groups")
        ]
    return [
        metadata,
        _guarded("kafka: topics", lambda: _layout(admin, topics)),
        _guarded("kafka: produce/consume round trip", lambda: _round_trip(broker, admin, topics)),
        _guarded("kafka: consumer groups", lambda: _group_lag(admin, topics)),
    ]


def _metadata(admin: Admin) -> str:
    info = admin.describe_cluster()
    return f"{info.brokers} broker(s), controller {info.controller_id}, cluster {info.cluster_id}"


def layout_problems(admin: Admin, topics: Topics) -> list[str]:
    """How the broker's topics differ from the expected layout (empty when they match)."""
    expected = topics.specs()
    found = admin.describe_topics([spec.name for spec in expected])
    problems = []
    for spec in expected:
        info = found.get(spec.name)
        if info is None:
            problems.append(f"{spec.name} missing")
            continue
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
    ping = _guarded("redis: ping", lambda: _ping(store))
    if not ping.ok:
        skipped = "skipped: Redis did not answer"
        return [ping] + [
            CheckResult(f"redis: {what}", False, skipped)
            for what in ("write/read/delete", "memory", "persistence (AOF)")
        ]
    return [
        ping,
        _guarded("redis: write/read/delete", lambda: _write_read_delete(store)),
        _guarded("redis: memory", lambda: _memory(store)),
        _guarded("redis: persistence (AOF)", lambda: _aof(store)),
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
    return [_guarded("registry: subjects", lambda: _subjects(registry, topics))]


def _subjects(registry: SchemaRegistryClient, topics: Topics) -> str:
    started = time.perf_counter()
    subjects = registry.subjects()
    elapsed_ms = (time.perf_counter() - started) * 1000
    ours = [s for s in subjects if s.startswith(topics.prefix) and s.endswith("-value")]
    hint = "" if ours else " (stream-sentinel schemas register adds ours)"
    return f"answered in {elapsed_ms:.1f} ms: {len(subjects)} subject(s), {len(ours)} of ours{hint}"
