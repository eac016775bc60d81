"""Prometheus metrics of the drift service (its own registry, served on ``--metrics-port``).

:meth:`DriftMetrics.observe` takes the windows' batches, :meth:`DriftMetrics.observe_labelled`
the labels' (and the settlements the windows' batches made); both count only what a committed
batch's landed writes hold, so a lost write repaired from the topic counts once."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

from stream_sentinel.learning.drift.handler import DriftOutcome
from stream_sentinel.learning.drift.labelled import LabelledOutcome

#: The kinds of labelled decisions counted, in the order of ``LabelledOutcome.fed``'s tallies:
#: fed to the monitors, wrong (alerting disagreed with the label), alerted, alerted and fraud.
LABELLED_KINDS = ("fed", "wrong", "alerted", "alerted_fraud")
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
        self._labelled_metrics(r)

        self._compared: set[tuple[str, str, str]] = set()  # label sets with a threshold
        self._shown: set[tuple[str, str, str]] = set()  # label sets with a statistic
        self._latest: dict[str, int] = {}  # version -> its latest window checked

    def _labelled_metrics(self, r: CollectorRegistry) -> None:
        self.labels = Counter(
            "sentinel_drift_labels", "Labels read from fraud-feedback", registry=r
        )
        self.late_labels = Counter(
            "sentinel_drift_late_labels",
            "Labels given after the deadline or for an hour already settled (not kept)",
            registry=r,
        )
        self.unjoined = Counter(
            "sentinel_drift_unjoined_labels",
            "Labelled transactions settled without a kept decision",
            registry=r,
        )
        self.labelled = Counter(
            "sentinel_drift_labelled_decisions",
            "Labelled decisions settled, by kind (fed, wrong, alerted, alerted_fraud)",
            ["kind"],
            registry=r,
        )
        self.settled = Gauge(
            "sentinel_drift_settled_until_seconds",
            "End (Unix seconds, event time) of the latest settled hour holding labels or decisions",
            registry=r,
        )

    def observe_labelled(self, outcome: LabelledOutcome) -> None:
        """A committed labels' batch (or a windows' batch's settlement): its labels where their
        partition's write landed; its settlement (decisions fed, retrain requests, and its
        alarms when published) when the lead's write landed."""
        landed = {p for p, applied in outcome.applied.items() if applied}
        self.labels.inc(sum(n for p, n in outcome.labels_by_partition.items() if p in landed))
        self.late_labels.inc(sum(n for p, n in outcome.late_by_partition.items() if p in landed))
        if outcome.lead not in landed:
            # a settlement lost after its batch published is settled (and published) again by
            # a later batch: its alarms are counted there, once, with the write that keeps them
            return
        if outcome.emitted:
            for event in outcome.events:
                subject = (event.model_version, event.monitor, event.feature or "")
                self.alarms.labels(*subject, event.severity).inc()
        self.unjoined.inc(outcome.unjoined)
        self.retrain_requests.inc(len(outcome.retrain_requests))
        for tally in outcome.fed.values():
            for kind, n in zip(LABELLED_KINDS, tally, strict=True):
                self.labelled.labels(kind).inc(n)
        if outcome.settled:
            self.settled.set((max(outcome.settled) + 1) * 3600)

    def __call__(self, outcome: DriftOutcome | LabelledOutcome) -> None:
        """Either loop's committed batch (what the service's two handlers report to)."""
        if isinstance(outcome, LabelledOutcome):
            self.observe_labelled(outcome)
        else:
            self.observe(outcome)

    def observe(self, outcome: DriftOutcome) -> None:
        """A committed batch's counts and checks: its alarms when they were published (not in
        a repair), its rows where a partition's write landed, its checks and requests when the
        lead's write (which holds them) landed."""
        landed = {p for p, applied in outcome.applied.items() if applied}
        self.rows.inc(sum(n for p, n in outcome.rows_by_partition.items() if p in landed))
        if outcome.emitted:  # a window's lost write is rebuilt in a repair, which publishes
            # nothing: its alarms were published (and are counted) once, here
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
