"""Simulated time against wall time, and the token bucket that holds a target rate.

A run covers a simulated period that ends at an anchor in the past (``now`` when streaming), so
no event is ever from the future. ``time_scale`` is simulated seconds per wall second: by default
it is chosen so that, at the target rate, an average user makes a realistic few transactions a
simulated day (``DEFAULT_TX_PER_USER_DAY``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from stream_sentinel.clock import Clock
from stream_sentinel.errors import UsageError
from stream_sentinel.generator.simulator import DEFAULT_TX_PER_USER_DAY

DAY_S = 86_400.0
UNBOUNDED_SPAN_S = 7 * DAY_S  # simulated period of a run bounded by neither count nor duration


@dataclass(frozen=True, slots=True)
class SwitchAt:
    """The drift switch: a fraction of the run (``0.5``) or an offset from its start (seconds)."""

    fraction: float | None = None
    offset_s: float | None = None

    @classmethod
    def parse(cls, text: str) -> SwitchAt:
        """``0.5`` or ``50%`` (a fraction of the run), or ``2d`` (simulated time after its start).

        >>> SwitchAt.parse("50%"), SwitchAt.parse("2d")
        (SwitchAt(fraction=0.5, offset_s=None), SwitchAt(fraction=None, offset_s=172800.0))
        """
        from stream_sentinel.generator.durations import parse_duration

        cleaned = text.strip()
        if cleaned.endswith("%"):
            return cls(fraction=_fraction(cleaned[:-1], 100.0, text))
        if _is_number(cleaned):  # a bare number is a fraction of the run
            return cls(fraction=_fraction(cleaned, 1.0, text))
        try:
            return cls(offset_s=parse_duration(cleaned, what="--switch-at"))
        except UsageError:
            raise UsageError(f"--switch-at {text!r} {NOT_A_SWITCH_POINT}") from None


NOT_A_SWITCH_POINT = (
    "is not a switch point: write a fraction of the run like 0.5, a percentage like 50%, "
    "or a simulated time after the start like 2d"
)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _fraction(number: str, scale: float, original: str) -> float:
    try:
        value = float(number) / scale
    except ValueError:
        raise UsageError(f"--switch-at {original!r} {NOT_A_SWITCH_POINT}") from None
    if not 0.0 <= value <= 1.0:
        raise UsageError(
            f"--switch-at {original!r}: a fraction of the run must be between 0 and 1 "
            "(or write a simulated time after the start, like 2d)"
        )
    return value


@dataclass(frozen=True, slots=True)
class TimePlan:
    start_ms: int
    end_ms: int
    tx_per_user_day: float
    time_scale: float | None  # simulated seconds per wall second; None: as fast as possible
    switch_ms: int | None
    expected_span_s: float  # simulated seconds the run is expected to cover


def plan_time(
    *,
    users: int,
    rate: float,
    count: int | None,
    duration_s: float | None,
    time_scale: float | None,
    end_ms: int,
    switch_at: SwitchAt | None,
) -> TimePlan:
    """Place the simulated period so it ends at ``end_ms`` and covers the run."""
    if time_scale is not None and rate <= 0:
        raise UsageError(
            "--time-scale needs a --rate above 0: with --rate 0 the generator runs as fast as "
            "it can, so simulated time has no wall-clock pace (drop --time-scale or set --rate)"
        )
    if time_scale is not None and time_scale <= 0:
        raise UsageError("--time-scale must be positive (or 'auto')")
    per_day = DEFAULT_TX_PER_USER_DAY
    if time_scale is not None:
        per_day = rate * DAY_S / (users * time_scale)
    events_per_s = users * per_day / DAY_S
    scale = (rate / events_per_s) if rate > 0 else None
    expected = _expected_span_s(events_per_s, scale, count, duration_s)
    span = (
        expected + _margin_s(expected, events_per_s)
        if (count or (duration_s and scale))
        else expected
    )
    start_ms = end_ms - math.ceil(span * 1000)
    return TimePlan(
        start_ms=start_ms,
        end_ms=end_ms,
        tx_per_user_day=per_day,
        time_scale=scale,
        switch_ms=_switch_ms(switch_at, start_ms, expected),
        expected_span_s=expected,
    )


def _expected_span_s(
    events_per_s: float, scale: float | None, count: int | None, duration_s: float | None
) -> float:
    if count:
        return count / events_per_s
    if duration_s and scale:
        return duration_s * scale
    return UNBOUNDED_SPAN_S


def _margin_s(expected_s: float, events_per_s: float) -> float:
    """Room so a run reaches its count or duration before the period's end: activity has a daily
    rhythm (a quiet few hours run about 20% below the mean) and Poisson noise."""
    rhythm = 0.25 * expected_s * min(1.0, DAY_S / expected_s)
    noise = 6.0 * math.sqrt(expected_s * events_per_s) / events_per_s
    return rhythm + noise + 60.0


def _switch_ms(switch_at: SwitchAt | None, start_ms: int, expected_s: float) -> int | None:
    if switch_at is None:
        return None
    if switch_at.offset_s is not None:
        return start_ms + round(switch_at.offset_s * 1000)
    return start_ms + round((switch_at.fraction or 0.0) * expected_s * 1000)


MIN_WAIT_S = 1e-4


class TokenBucket:
    """Grants up to ``rate`` tokens per second with bursts up to ``burst``; rate 0: unlimited.

    Time comes from the injected clock, so tests drive it with a ManualClock.
    """

    def __init__(self, rate: float, burst: float, clock: Clock) -> None:
        if rate < 0:
            raise UsageError("--rate must not be negative (0 means as fast as possible)")
        self.rate = rate
        self.burst = max(burst, 1.0)
        self._clock = clock
        self._tokens = 0.0
        self._last = clock.monotonic()

    @property
    def unlimited(self) -> bool:
        return self.rate == 0

    def take(self, wanted: int, at_least: int = 1) -> int:
        """Grant (and consume) as many of ``wanted`` tokens as are available now, or none when
        fewer than ``at_least`` (at most a full bucket) have accrued."""
        if self.unlimited:
            return wanted
        self._refill()
        # the epsilon: tokens accrue in float steps, and 249.99999999999997 must count as 250,
        # or the wait for the last 3e-17 of a token is too short to move the clock at all
        granted = min(wanted, int(self._tokens + 1e-6))
        if granted < min(at_least, self._whole_burst):
            return 0
        self._tokens -= granted
        return granted

    def wait_s(self, wanted: int) -> float:
        """Seconds until ``wanted`` tokens (at most a full bucket) will be available; never a
        wait too short to move a clock when some are still missing."""
        if self.unlimited:
            return 0.0
        self._refill()
        missing = min(wanted, self._whole_burst) - self._tokens
        return 0.0 if missing <= 1e-6 else max(missing / self.rate, MIN_WAIT_S)

    @property
    def _whole_burst(self) -> int:
        """The most whole tokens a full bucket can grant."""
        return max(int(self.burst + 1e-6), 1)

    def _refill(self) -> None:
        now = self._clock.monotonic()
        self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
        self._last = now
