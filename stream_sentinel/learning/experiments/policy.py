"""The decision rule and guard rails of the configured settings (the pure logic takes none)."""

from __future__ import annotations

from stream_sentinel.config.experiments import ExperimentSettings
from stream_sentinel.logic.experiments.guardrails import Limits
from stream_sentinel.logic.experiments.rule import Rule

DAY_MS = 86_400_000


def rule_of(s: ExperimentSettings) -> Rule:
    return Rule(s.alpha, s.mde, s.min_labels, s.max_labels, s.max_days)


def limits_of(s: ExperimentSettings) -> Limits:
    return Limits(
        s.max_alert_rate_ratio,
        s.max_decline_rate_ratio,
        s.max_latency_ratio,
        s.guard_min_rows,
        s.guard_min_events,
    )


def deadline_ms(s: ExperimentSettings) -> int:
    return int(s.label_deadline_days * DAY_MS)
