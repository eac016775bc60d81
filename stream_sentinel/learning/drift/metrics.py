"""Prometheus metrics of the drift service (its own registry, served on ``--metrics-port``)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

from stream_sentinel.learning.drift.handler import DriftOutcome

#: A version with no window checked for this long (event time) behind the newest check has
#: its gauges removed.
STALE_MS = 7 * 24 * 3_600_000


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

        self._compared: set[tuple[str, str, str]] = set()  # label sets with a threshold
        self._shown: set[tuple[str, str, str]] = set()  # label sets with a statistic
        self._latest: dict[str, int] = {}  # version -> its latest window checked

    def observe(self, outcome: DriftOutcome) -> None:
        """A committed batch's counts and checks: its alarms when they were published (not in
        a repair), its rows where a partition's write landed, its checks and requests when the
        lead's write (which holds them) landed."""
        landed = {p for p, applied in outcome.applied.items() if applied}
        self.rows.inc(sum(n for p, n in outcome.rows_by_partition.items() if p in landed))
        if outcome.emitted:
            for event in outcome.events:
                subject = (event.model_version, event.monitor, event.feature or "")
                self.alarms.labels(*subject, event.severity).inc()
        if outcome.lead not in landed:
            return
        self.late.inc(outcome.late)
        self.retrain_requests.inc(len(outcome.retrain_requests))
        for check in outcome.checks:
            self.windows.labels(check.model_version).inc()
            self._latest[check.model_version] = check.window_start
            for value in check.values:
                labels = (check.model_version, value.monitor, value.feature or "")
                self._shown.add(labels)
                self.statistic.labels(*labels).set(value.value)
                if value.threshold is not None:
                    self.threshold.labels(*labels).set(value.threshold)
                    self._compared.add(labels)
                elif labels in self._compared:
                    self.threshold.remove(*labels)  # Holm stopped before it: no threshold
                    self._compared.discard(labels)
        self._forget_stale()

    def _forget_stale(self) -> None:
        """Drop the gauges of versions with no window checked for ``STALE_MS`` of event time
        behind the newest check (a retired champion's last values are not current)."""
        newest = max(self._latest.values(), default=0)
        for version in [v for v, ms in self._latest.items() if newest - ms > STALE_MS]:
            del self._latest[version]
            for labels in [s for s in self._shown if s[0] == version]:
                self._shown.discard(labels)
                self.statistic.remove(*labels)
                if labels in self._compared:
                    self._compared.discard(labels)
                    self.threshold.remove(*labels)
