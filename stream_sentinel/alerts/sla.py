"""SLA tracking: per tier, the time from the input transaction's Kafka timestamp (the alert's
``produced_time``) to the action being committed and in force (outputs committed to Kafka and
the control state written to Redis, i.e. what the detector sees).

Each action is one sample. Samples go to Prometheus (a histogram and a misses counter per tier)
and to counters in Redis (``stats:alert_sla``), so `alerts stats` shows attainment summed over
every processor that ever ran. The persisted histogram has fixed buckets, which is enough for
percentile estimates of the order "p95 < 2.5 s".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server

from stream_sentinel.alerts.policy import ResponsePlan
from stream_sentinel.domain import RiskLevel
from stream_sentinel.state import keys
from stream_sentinel.state.base import Batch

#: Upper bounds (ms) of the persisted latency buckets; slower samples fall in "+Inf".
BUCKETS_MS = (100, 250, 500, 1_000, 2_500, 5_000, 10_000, 30_000, 60_000, 300_000)
_BUCKETS_S = tuple(ms / 1000 for ms in BUCKETS_MS)
INF = "+Inf"


@dataclass(frozen=True, slots=True)
class SlaSample:
    tier: RiskLevel
    action: str
    latency_ms: int

    def missed(self, targets: Mapping[RiskLevel, int]) -> bool:
        return self.latency_ms > targets.get(self.tier, 0)


def samples(plans: Iterable[ResponsePlan], committed_ms: int) -> list[SlaSample]:
    """One sample per action of each plan, committed at ``committed_ms``."""
    return [
        SlaSample(plan.tier, p.action.value, max(committed_ms - plan.alert.produced_time, 0))
        for plan in plans
        for p in plan.actions
    ]


def bucket_of(latency_ms: int) -> str:
    for bound in BUCKETS_MS:
        if latency_ms <= bound:
            return str(bound)
    return INF


def persisted(found: Iterable[SlaSample], targets: Mapping[RiskLevel, int]) -> Batch:
    """The Redis counter increments for these samples (one HINCRBY per distinct field)."""
    counts: dict[str, int] = {}
    for sample in found:
        tier = sample.tier.name
        for name, amount in (
            ("actions", 1),
            ("missed", int(sample.missed(targets))),
            ("latency_ms", sample.latency_ms),
            (f"le:{bucket_of(sample.latency_ms)}", 1),
        ):
            counts[f"{tier}:{name}"] = counts.get(f"{tier}:{name}", 0) + amount
    batch = Batch()
    for field, amount in sorted(counts.items()):
        if amount:
            batch.hincrby(keys.PIPELINE, keys.ALERT_SLA, field, amount)
    return batch


@dataclass(frozen=True, slots=True)
class Attainment:
    """One tier's SLA record, from the persisted counters."""

    tier: RiskLevel
    target_ms: int
    actions: int
    missed: int
    latency_ms_total: int
    buckets: dict[str, int]

    @property
    def attainment(self) -> float | None:
        """Share of actions within target (None before the first one)."""
        return None if not self.actions else (self.actions - self.missed) / self.actions

    @property
    def mean_ms(self) -> float | None:
        return None if not self.actions else self.latency_ms_total / self.actions

    def quantile_bound_ms(self, q: float) -> str | None:
        """The bucket bound below which a share ``q`` of the actions fell ("+Inf" if slower)."""
        if not self.actions:
            return None
        seen = 0
        for bound in (*map(str, BUCKETS_MS), INF):
            seen += self.buckets.get(bound, 0)
            if seen >= q * self.actions:
                return bound
        return INF


def read_attainment(
    fields: Mapping[str, bytes | str], targets: Mapping[RiskLevel, int]
) -> list[Attainment]:
    """Per tier (highest first), the SLA record held in ``stats:alert_sla``."""
    values = {name: int(value) for name, value in fields.items()}
    return [_tier_attainment(values, tier, targets[tier]) for tier in sorted(targets, reverse=True)]


def _tier_attainment(values: Mapping[str, int], tier: RiskLevel, target_ms: int) -> Attainment:
    prefix = f"{tier.name}:"
    buckets = {
        name.removeprefix(prefix + "le:"): n
        for name, n in values.items()
        if name.startswith(prefix + "le:")
    }
    return Attainment(
        tier,
        target_ms,
        values.get(prefix + "actions", 0),
        values.get(prefix + "missed", 0),
        values.get(prefix + "latency_ms", 0),
        buckets,
    )


class AlertMetrics:
    """Prometheus metrics of one alert processor (its own registry, served on --metrics-port)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = r = registry or CollectorRegistry()
        self.alerts = Counter(
            "sentinel_alerts_processed", "Alerts acted on", ["severity"], registry=r
        )
        self.duplicates = Counter(
            "sentinel_alerts_duplicate", "Alerts already handled (replays), skipped", registry=r
        )
        self.actions = Counter(
            "sentinel_alert_actions", "Actions taken", ["tier", "action"], registry=r
        )
        self.dead_letters = Counter(
            "sentinel_alert_dead_letters",
            "Alerts sent to dead-letter",
            ["error_type"],
            registry=r,
        )
        self.latency = Histogram(
            "sentinel_alert_action_latency_seconds",
            "Input transaction's Kafka timestamp to the action being committed, per tier",
            ["tier"],
            buckets=_BUCKETS_S,
            registry=r,
        )
        self.sla_misses = Counter(
            "sentinel_alert_sla_misses",
            "Actions committed later than the tier's SLA target",
            ["tier"],
            registry=r,
        )

    def observe(self, found: Iterable[SlaSample], targets: Mapping[RiskLevel, int]) -> None:
        for sample in found:
            self.actions.labels(sample.tier.name, sample.action).inc()
            self.latency.labels(sample.tier.name).observe(sample.latency_ms / 1000)
            if sample.missed(targets):
                self.sla_misses.labels(sample.tier.name).inc()

    def serve(self, port: int) -> int:
        """Serve /metrics on 127.0.0.1:port (0 = any free port); returns the port."""
        server, _ = start_http_server(port, addr="127.0.0.1", registry=self.registry)
        return int(server.server_port)
