"""Connectivity checks behind `stream-sentinel check`: each returns PASS/FAIL with one reason."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from stream_sentinel.errors import InfraError, SentinelError
from stream_sentinel.registry.client import SchemaRegistryClient
from stream_sentinel.state.base import Batch, Namespace, StateStore
from stream_sentinel.transport.base import Admin, Broker, TopicInfo, TopicPartition, TopicSpec
from stream_sentinel.transport.topics import LAYOUT, Topics, min_insync_for, replication_for

SCRATCH_TOPIC = "_sentinel-check"
#: Kafka's own topics whose copies matter: group offsets and the transaction log.
INTERNAL_TOPICS = ("__consumer_offsets", "__transaction_state")


MIN_ISR = "min.insync.replicas"


@dataclass(frozen=True, slots=True)
class CheckResult:
    name: str
    ok: bool
    detail: str
    #: "SKIP" (not checked) or "WARN" (works, but worth fixing) shown instead of PASS.
    note: str | None = None

    @property
    def mark(self) -> str:
        return "FAIL" if not self.ok else (self.note or "PASS")


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
                "topic replication factor",
                "replication (ISR)",
                "produce/consume round trip",
                "consumer groups",
            )
        ]
    return [
        metadata,
        guarded("kafka: topics", lambda: _layout(admin, topics)),
        _shortfall_check(admin, topics),
        guarded("kafka: replication (ISR)", lambda: _replication(admin, topics)),
        guarded("kafka: produce/consume round trip", lambda: _round_trip(broker, admin, topics)),
        guarded("kafka: consumer groups", lambda: _group_lag(admin, topics)),
    ]


def _metadata(admin: Admin) -> str:
    info = admin.describe_cluster()
    return f"{info.brokers} broker(s), controller {info.controller_id}, cluster {info.cluster_id}"


def cluster_size(admin: Admin, recorded: int | None = None) -> int:
    """How many brokers the cluster should have, whether or not all of them are up: the most
    of the live brokers, their ``default.replication.factor``, ``recorded`` (the local stack's
    node count) and any topic's replication factor (a down broker's replicas still count)."""
    live = admin.describe_cluster().brokers
    defaults = [
        int(broker.config.get("default.replication.factor", "1"))
        for broker in admin.describe_brokers(["default.replication.factor"])
    ]
    copies = [info.replication_factor for info in admin.describe_topics().values()]
    return max([live, recorded or 0, *defaults, *copies])


def require_all_live(live: int, brokers: int) -> None:
    """Refuse to create topics while brokers are down: they would get fewer replicas (and a
    lower min.insync.replicas) than the cluster should give them, and keep them."""
    if live < brokers:
        raise InfraError(
            f"only {live} of the cluster's {brokers} brokers answer: topics created now would"
            f" get {replication_for(live)} replica(s) instead of {replication_for(brokers)}, and"
            " keep them. Start the missing broker(s) (`stream-sentinel infra status` names the"
            " local ones, `infra up` starts them) and run `topics create` again"
        )


def _broker_min_insync(admin: Admin) -> int:
    """The brokers' ``min.insync.replicas``: what a topic without its own setting gets."""
    values = [b.config.get(MIN_ISR) for b in admin.describe_brokers([MIN_ISR])]
    return max([int(v) for v in values if v] or [1])


def layout_problems(admin: Admin, topics: Topics) -> list[str]:
    """How the broker's topics differ from the expected layout (empty when they match).

    Replication is not compared here (see ``replication_shortfall``); ``min.insync.replicas``
    must be at least what the topic's own replication factor calls for (a stricter value is a
    choice, not a difference), whether set on the topic or inherited from the brokers."""
    expected = topics.specs()
    found = admin.describe_topics([spec.name for spec in expected])
    inherited = _broker_min_insync(admin)
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
            if key != MIN_ISR and info.config.get(key) != value:
                problems.append(f"{spec.name} {key}={info.config.get(key)}, expected {value}")
        in_sync = int(info.config.get(MIN_ISR, inherited))
        wanted = min_insync_for(info.replication_factor)
        if in_sync < wanted:
            problems.append(f"{spec.name} {MIN_ISR}={in_sync}, expected at least {wanted}")
    return problems


def replication_shortfall(admin: Admin, topics: Topics, brokers: int) -> list[str]:
    """Topics with fewer copies than a cluster of ``brokers`` gives new ones (made by an
    earlier version, or by hand). Not a layout difference: `topics create` never changes an
    existing topic, so the remedy is to recreate it or to add replicas by reassignment."""
    wanted = replication_for(brokers)
    found = admin.describe_topics([spec.name for spec in topics.specs()])
    return [
        f"{name} has {info.replication_factor} replica(s), fewer than the {wanted} a"
        f" {brokers}-broker cluster allows"
        for name, info in sorted(found.items())
        if info.replication_factor < wanted
    ]


SHORTFALL_REMEDY = (
    "recreate the topic (delete it, then `stream-sentinel topics create`; its records are"
    " lost) or add replicas with kafka-reassign-partitions --execute"
)


def _shortfall_check(admin: Admin, topics: Topics) -> CheckResult:
    name = "kafka: topic replication factor"
    try:
        brokers = cluster_size(admin)
        short = replication_shortfall(admin, topics, brokers)
    except (SentinelError, OSError) as exc:
        return CheckResult(name, False, str(exc) or type(exc).__name__)
    if not short:
        copies = replication_for(brokers)
        return CheckResult(name, True, f"{copies} replica(s) per topic on {brokers} broker(s)")
    more = f"; and {len(short) - 2} more" if len(short) > 2 else ""
    return CheckResult(name, True, "; ".join(short[:2]) + more + f": {SHORTFALL_REMEDY}", "WARN")


def _layout(admin: Admin, topics: Topics) -> str:
    problems = layout_problems(admin, topics)
    if problems:
        missing = any(p.endswith(" missing") for p in problems)
        hint = (
            "run: stream-sentinel topics create"
            if missing
            else "`topics create` changes no existing topic: alter it with kafka-configs or"
            " recreate it"
        )
        raise AssertionError("; ".join(problems[:4]) + f" ({hint})")
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
