"""What one demo run is asked to do, checked all at once before anything starts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from stream_sentinel.errors import UsageError

BackendChoice = Literal["embedded", "local"]
BACKENDS: tuple[BackendChoice, ...] = ("embedded", "local")

MIN_DURATION_S, MAX_DURATION_S = 5.0, 3600.0
MIN_RATE, MAX_RATE = 10.0, 20_000.0
MIN_USERS, MAX_USERS = 100, 1_000_000


@dataclass(frozen=True, slots=True)
class DemoOptions:
    """``stream-sentinel demo``'s flags (the defaults are the README's ``make demo``)."""

    duration_s: float = 60.0
    rate: float = 2000.0
    backend: BackendChoice = "embedded"
    seed: int = 1
    users: int = 10_000
    keep: bool = False  # local backend: leave the run's topics and keys for inspection
    console_port: int | None = None  # serve the console on 127.0.0.1 at this port (0: any free)
    keep_open: bool = False  # after the summary, keep the console (and the data) until Ctrl-C

    def validate(self) -> None:
        """Raise :class:`UsageError` naming the first flag that cannot be used, and why."""
        checks = [
            (
                MIN_DURATION_S <= self.duration_s <= MAX_DURATION_S,
                f"--duration must be between {MIN_DURATION_S:g} s and {MAX_DURATION_S:g} s "
                f"(got {self.duration_s:g} s); e.g. --duration 60 or --duration 2m",
            ),
            (
                MIN_RATE <= self.rate <= MAX_RATE,
                f"--rate must be between {MIN_RATE:,.0f} and {MAX_RATE:,.0f} transactions per "
                f"second (got {self.rate:,g}); the embedded detector keeps up with about "
                "8,000/s on two cores",
            ),
            (
                MIN_USERS <= self.users <= MAX_USERS,
                f"--users must be between {MIN_USERS:,} and {MAX_USERS:,} (got {self.users:,})",
            ),
            (self.seed >= 0, f"--seed must be 0 or more (got {self.seed})"),
            (
                self.backend in BACKENDS,
                f"--backend must be one of {', '.join(BACKENDS)} (got {self.backend!r})",
            ),
            (
                self.console_port is None or 0 <= self.console_port <= 65535,
                f"--console-port must be between 0 and 65535 (got {self.console_port})",
            ),
            (
                not self.keep_open or self.console_port is not None,
                "--keep-open keeps the console open: give --console-port too",
            ),
            (
                not self.keep or self.backend == "local",
                "--keep applies to --backend local only: embedded data lives in this process "
                "and ends with it",
            ),
        ]
        for ok, message in checks:
            if not ok:
                raise UsageError(message)
