"""`generate`'s arguments, checked all at once, turned into a time plan and a simulation config.

Every problem raises :class:`UsageError` with a message that says what to change, before
anything is opened or written.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from stream_sentinel.errors import UsageError
from stream_sentinel.generator.durations import parse_duration
from stream_sentinel.generator.labels import LabelPolicy
from stream_sentinel.generator.population import MAX_USERS
from stream_sentinel.generator.scenarios import get_scenario
from stream_sentinel.generator.simulator import SimulationConfig
from stream_sentinel.generator.timing import SwitchAt, TimePlan, plan_time

#: 2025-01-01T00:00:00Z: where a file's simulated period ends unless --end-time says otherwise,
#: so that a seed reproduces the same bytes on any day.
DATASET_END_MS = 1_735_689_600_000
STREAM_DEFAULT_RATE = 1000.0


@dataclass(frozen=True, slots=True)
class GenerateRequest:
    rate: float | None = None  # None: 0 (as fast as possible) to a file, 1000/s to Kafka
    count: int | None = None
    duration: str | None = None
    users: int = 10_000
    fraud_rate: float = 0.01
    scenario: str = "baseline"
    switch_at: str = "0.5"
    label_delay: str = "30m"
    legit_label_share: float = 0.05
    label_noise: float = 0.0
    missing_labels: float = 0.0
    time_scale: str = "auto"
    seed: int = 0
    output: Path | None = None
    end_time: str | None = None  # "now" or ISO 8601; default: now for Kafka, DATASET_END for files

    def validate(self) -> None:
        """Raise UsageError for the first argument that cannot be used."""
        if self.rate is not None and self.rate < 0:
            raise UsageError(
                f"--rate must not be negative (got {self.rate:g}); 0 means as fast as possible"
            )
        if self.count is not None and self.count <= 0:
            raise UsageError(
                f"--count must be a positive number of transactions (got {self.count})"
            )
        if not 0.0 <= self.fraud_rate <= 1.0:
            raise UsageError(
                f"--fraud-rate must be between 0 and 1 (got {self.fraud_rate:g}); 0.01 means 1%"
            )
        if not 1 <= self.users <= MAX_USERS:
            raise UsageError(f"--users must be between 1 and {MAX_USERS:,} (got {self.users:,})")
        for flag, share in (
            ("--legit-label-share", self.legit_label_share),
            ("--label-noise", self.label_noise),
            ("--missing-labels", self.missing_labels),
        ):
            if not 0.0 <= share <= 1.0:
                raise UsageError(f"{flag} must be between 0 and 1 (got {share:g})")
        get_scenario(self.scenario)
        self.duration_s()
        self.label_delay_ms()
        self.scale()
        self.switch()

    @property
    def to_file(self) -> bool:
        return self.output is not None

    def effective_rate(self) -> float:
        if self.rate is not None:
            return self.rate
        return 0.0 if self.to_file else STREAM_DEFAULT_RATE

    def duration_s(self) -> float | None:
        if self.duration is None:
            return None
        seconds = parse_duration(self.duration, what="--duration")
        if seconds <= 0:
            raise UsageError("--duration must be longer than 0s")
        return seconds

    def label_delay_ms(self) -> int:
        return round(parse_duration(self.label_delay, what="--label-delay") * 1000)

    def scale(self) -> float | None:
        if self.time_scale.strip().lower() == "auto":
            return None
        try:
            value = float(self.time_scale)
        except ValueError:
            raise UsageError(
                f"--time-scale {self.time_scale!r}: give simulated seconds per wall second "
                "(e.g. 3600) or 'auto'"
            ) from None
        if value <= 0:
            raise UsageError(f"--time-scale must be positive or 'auto' (got {value:g})")
        return value

    def switch(self) -> SwitchAt | None:
        switch = SwitchAt.parse(self.switch_at)  # checked even where the scenario never switches
        return switch if get_scenario(self.scenario).drifts else None

    def end_ms(self, now_ms: int) -> int:
        """Where the simulated period ends; never after ``now_ms``."""
        text = self.end_time or ("now" if not self.to_file else None)
        if text is None:
            return min(DATASET_END_MS, now_ms)
        if text.strip().lower() == "now":
            return now_ms - now_ms % 1000
        try:
            moment = datetime.fromisoformat(text.strip())
        except ValueError:
            raise UsageError(
                f"--end-time {text!r}: write 'now' or an ISO date/time like 2025-01-01T00:00:00Z"
            ) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        end = round(moment.timestamp() * 1000)
        if end > now_ms:
            raise UsageError(
                f"--end-time {text} is in the future: simulated events must lie in the past"
            )
        return end

    def plan(self, now_ms: int) -> TimePlan:
        return plan_time(
            users=self.users,
            rate=self.effective_rate(),
            count=self.count,
            duration_s=self.duration_s(),
            time_scale=self.scale(),
            end_ms=self.end_ms(now_ms),
            switch_at=self.switch(),
        )

    def simulation_config(self, plan: TimePlan) -> SimulationConfig:
        return SimulationConfig(
            users=self.users,
            fraud_rate=self.fraud_rate,
            scenario=self.scenario,
            start_ms=plan.start_ms,
            switch_at_ms=plan.switch_ms,
            end_ms=plan.end_ms,
            tx_per_user_day=plan.tx_per_user_day,
            labels=LabelPolicy(
                delay_ms=self.label_delay_ms(),
                legit_share=self.legit_label_share,
                noise=self.label_noise,
                missing=self.missing_labels,
            ),
        )
