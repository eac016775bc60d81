"""Prometheus metrics of the drift service (its own registry, served on ``--metrics-port``)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

from stream_sentinel.learning.drift.handler import DriftOutcome


class DriftMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r, labels = self.registry, ["model_version", "monitor", "feature"]
        self.statistic = Gauge(
            "sentinel_drift_statistic",
            "A monitor's statistic in the latest checked window",
            labels,
            registry=r,
        )
        self.threshold = Gauge(
            "sentinel_drift_threshold",
            "The value the statistic had to exceed (Holm level)",
            labels,
            registry=r,
        )
        self.alarms = Counter(
            "sentinel_drift_alarms", "Drift alarms published", [*labels, "severity"], registry=r
        )
        self.windows = Counter(
            "sentinel_drift_windows_checked",
            "Event-time windows checked",
            ["model_version"],
            registry=r,
        )
        self.rows = Counter("sentinel_drift_rows", "Feature-log rows counted", registry=r)
        self.late = Counter(
            "sentinel_drift_late_rows",
            "Rows for an hour already checked (not counted)",
            registry=r,
        )
        self.retrain_requests = Counter(
            "sentinel_drift_retrain_requests", "Retrain requests the policy made", registry=r
        )

        self._compared: set[tuple[str, str, str]] = set()

    def observe(self, outcome: DriftOutcome) -> None:
        """A committed batch's counts and checks."""
        self.rows.inc(outcome.rows)
        self.late.inc(outcome.late)
        self.retrain_requests.inc(len(outcome.retrain_requests))
        for check in outcome.checks:
            self.windows.labels(check.model_version).inc()
            for value in check.values:
                labels = (check.model_version, value.monitor, value.feature or "")
                self.statistic.labels(*labels).set(value.value)
                if value.threshold is not None:
                    self.threshold.labels(*labels).set(value.threshold)
                    self._compared.add(labels)
                elif labels in self._compared:
                    self.threshold.remove(*labels)  # Holm stopped before it: no threshold
                    self._compared.discard(labels)
        for event in outcome.events:
            subject = (event.model_version, event.monitor, event.feature or "")
            self.alarms.labels(*subject, event.severity).inc()
