"""Prometheus metrics of one detector process (its own registry, served on --metrics-port)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
_STAGE_BUCKETS = (0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1)
_LOAD_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
_BATCH_BUCKETS = (1, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10000)
STAGES = ("decode", "state_read", "features", "score", "produce", "commit", "state_write")


class ModelMetrics:
    """What a model source reports: the version served, swaps, refusals, loads (the champion's
    as ``sentinel_model_*``, an experiment's challenger's, in either mode, as
    ``sentinel_shadow_model_*``)."""

    def __init__(self, r: CollectorRegistry, prefix: str, what: str) -> None:
        self._models(r, prefix, what)

    def _models(self, r: CollectorRegistry, prefix: str, what: str) -> None:
        self.model = Gauge(f"{prefix}_info", f"{what} in use", ["version"], registry=r)
        self.model_swaps = Counter(f"{prefix}_swaps", f"{what}s swapped in", registry=r)
        self.model_load_failures = Counter(
            f"{prefix}_load_failures",
            f"{what} versions (or registry reads) refused: the previous model kept scoring",
            registry=r,
        )
        self.model_load = Histogram(
            f"{prefix}_load_seconds",
            f"Reading, verifying and parsing a new {what.lower()} version (off the scoring path)",
            buckets=_LOAD_BUCKETS,
            registry=r,
        )
        self.model_swap_pause = Histogram(
            f"{prefix}_swap_pause_seconds",
            f"Time a {what.lower()} swap took between two batches",
            buckets=_STAGE_BUCKETS,
            registry=r,
        )


class DetectorMetrics(ModelMetrics):
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.records_in = Counter("sentinel_records_in", "Input records consumed", registry=r)
        self.decisions = Counter(
            "sentinel_decisions", "Decisions published", ["decision"], registry=r
        )
        self.alerts = Counter("sentinel_alerts", "Alerts published", ["severity"], registry=r)
        self.dead_letters = Counter(
            "sentinel_dead_letters", "Records sent to dead-letter", ["error_type"], registry=r
        )
        self.aborted = Counter(
            "sentinel_transactions_aborted", "Kafka transactions aborted and retried", registry=r
        )
        self.batch_size = Histogram(
            "sentinel_batch_size", "Records per batch", buckets=_BATCH_BUCKETS, registry=r
        )
        self.latency = Histogram(
            "sentinel_end_to_end_latency_seconds",
            "Input record's Kafka timestamp to its decision being committed",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.stage = Histogram(
            "sentinel_stage_seconds",
            "Time per batch stage",
            ["stage"],
            buckets=_STAGE_BUCKETS,
            registry=r,
        )
        self.lag = Gauge(
            "sentinel_consumer_lag", "Records not yet consumed", ["partition"], registry=r
        )
        self._models(r, "sentinel_model", "Model")
        self.shadow = ModelMetrics(r, "sentinel_shadow_model", "Shadow model")
        self.shadow_scoring = Histogram(
            "sentinel_shadow_scoring_seconds",
            "Scoring one batch with the experiment's challenger (shadow mode: beside the champion, "
            "deciding nothing; split mode: before its arm's rows are decided)",
            buckets=_STAGE_BUCKETS,
            registry=r,
        )

    def serve(self, port: int) -> int:
        """Serve /metrics on 127.0.0.1:port (0 = any free port); returns the port."""
        server, _ = start_http_server(port, addr="127.0.0.1", registry=self.registry)
        return int(server.server_port)
