"""The demo's scenario: simulated traffic paced to the wall clock, and settings to match.

Simulated time runs faster than the wall clock: at the default 2,000 transactions a second from
10,000 users making about four payments a day, a simulated day passes every 20 s
(``time_scale`` 4,320). The simulated period ends *now*, so no event is ever from the future.
The alert processor's enforcement periods (block and step-up 24 h, watch 7 d) are wall-clock
durations counted from the decision, so they are divided by the same factor: a block lasts a
simulated day of the customer's life, as it would in production, instead of the whole demo.
Everything else — rules, model, bands, escalation windows (event time) — is the production
configuration, untouched.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from stream_sentinel.config import AlertSettings, Settings
from stream_sentinel.demo.options import DemoOptions
from stream_sentinel.generator import LabelPolicy, SimulationConfig
from stream_sentinel.generator.timing import plan_time

FRAUD_RATE = 0.01
#: Labels as the generator's defaults: fraud reported 30 min to 3 h (simulated) after the
#: payment, mostly by chargebacks; 5% of legitimate payments confirmed by analysts.
LABELS = LabelPolicy(delay_ms=30 * 60_000, legit_share=0.05)
ENFORCEMENT_PERIODS = ("block_period_s", "step_up_period_s", "watch_period_s")


@dataclass(frozen=True, slots=True)
class DemoScenario:
    """The simulation to stream and the settings every component of the run uses."""

    simulation: SimulationConfig
    time_scale: float  # simulated seconds per wall second
    settings: Settings

    @property
    def simulated_day_s(self) -> float:
        """Wall seconds per simulated day."""
        return 86_400.0 / self.time_scale


def plan_scenario(options: DemoOptions, settings: Settings, now_ms: int) -> DemoScenario:
    """The simulated period (ending at ``now_ms``) and the run's settings."""
    plan = plan_time(
        users=options.users,
        rate=options.rate,
        count=None,
        duration_s=options.duration_s,
        time_scale=None,
        end_ms=now_ms,
        switch_at=None,
    )
    scale = plan.time_scale or 1.0
    simulation = SimulationConfig(
        users=options.users,
        fraud_rate=FRAUD_RATE,
        start_ms=plan.start_ms,
        end_ms=plan.end_ms,
        tx_per_user_day=plan.tx_per_user_day,
        labels=LABELS,
    )
    run_settings = settings.with_overrides(alerts=scaled_enforcement(settings.alerts, scale))
    return DemoScenario(simulation, scale, run_settings)


def scaled_enforcement(alerts: AlertSettings, time_scale: float) -> dict[str, Any]:
    """Enforcement periods divided by the time scale (never below one second)."""
    return {
        name: max(getattr(alerts, name) / max(time_scale, 1.0), 1.0) for name in ENFORCEMENT_PERIODS
    }
