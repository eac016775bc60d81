"""What a benchmark run measures and how big it is, checked before anything starts."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

from stream_sentinel.errors import UsageError
from stream_sentinel.generator.population import MAX_USERS

Mode = Literal["throughput", "latency", "scaling", "all"]
MODES: tuple[Mode, ...] = ("throughput", "latency", "scaling", "all")
GUARANTEES = ("exactly-once", "at-least-once")
MAX_COUNT = 50_000_000
MAX_RATE = 1_000_000
MAX_WORKERS = 12  # transactions has 12 partitions: more workers would sit idle


@dataclass(frozen=True, slots=True)
class BenchOptions:
    count: int = 200_000  # transactions preloaded for throughput and each scaling run
    users: int = 100_000  # simulated population of the throughput and latency runs
    duration_s: float = 10.0  # measured seconds per latency point (after the warm-up)
    rates: tuple[int, ...] = (1_000, 5_000, 20_000)
    guarantee: str | None = None  # None: exactly-once, and both for latency
    naive_records: int = 5_000
    naive_seconds: float = 20.0
    scaling_users: tuple[int, ...] = (10_000, 1_000_000)
    scaling_workers: tuple[int, ...] = (1, 2)
    warmup_s: float = 2.0
    seed: int = 7
    own_stack: bool = False
    redis_maxmemory: str = "4gb"  # for --own-stack
    # detectors write decision-features (None: as the settings say; --no-feature-log: off)
    feature_log: bool | None = None

    def validate(self) -> BenchOptions:
        """Raise UsageError naming the flag for the first value that cannot be used."""
        _within("--count", self.count, 1, MAX_COUNT)
        _within("--users", self.users, 1, MAX_USERS)
        _within("--naive-count", self.naive_records, 1, MAX_COUNT)
        if not 0 < self.duration_s <= 3600:
            raise UsageError(f"--duration must be between 0 and 3600 s (got {self.duration_s:g})")
        if not 0 < self.naive_seconds <= 3600:
            raise UsageError(
                f"--naive-seconds must be between 0 and 3600 (got {self.naive_seconds:g})"
            )
        if not 0 <= self.warmup_s <= 600:
            raise UsageError(f"--warmup must be between 0 and 600 s (got {self.warmup_s:g})")
        if not self.rates:
            raise UsageError("--rates needs at least one rate, e.g. --rates 1000,5000,20000")
        for rate in self.rates:
            _within("--rates", rate, 1, MAX_RATE)
        for users in self.scaling_users:
            _within("--scaling-users", users, 1, MAX_USERS)
        for workers in self.scaling_workers:
            _within("--workers", workers, 1, MAX_WORKERS)
        if self.guarantee is not None and self.guarantee not in GUARANTEES:
            raise UsageError(f"--guarantee must be one of {', '.join(GUARANTEES)}")
        return self

    @property
    def throughput_guarantee(self) -> str:
        return self.guarantee or "exactly-once"

    @property
    def latency_guarantees(self) -> tuple[str, ...]:
        return (self.guarantee,) if self.guarantee else ("at-least-once", "exactly-once")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _within(flag: str, value: int, low: int, high: int) -> None:
    if not low <= value <= high:
        raise UsageError(f"{flag} must be between {low:,} and {high:,} (got {value:,})")


def parse_int_list(text: str, flag: str) -> tuple[int, ...]:
    """``"1000,5000,20k"`` -> (1000, 5000, 20000); UsageError naming ``flag`` otherwise."""
    values = []
    for part in text.split(","):
        item = part.strip().lower().replace("_", "")
        scale = 1
        if item.endswith("k"):
            item, scale = item[:-1], 1_000
        elif item.endswith("m"):
            item, scale = item[:-1], 1_000_000
        try:
            values.append(round(float(item) * scale))
        except ValueError:
            raise UsageError(
                f"{flag} {text!r}: give whole numbers separated by commas, e.g. 1000,5000,20k"
            ) from None
    return tuple(values)
