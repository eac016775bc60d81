"""How far the drift service is with one model version: its reference window and next check.

A version's rows are followed from the first hour it scored (``since_ms``): ``warmup_hours``
are skipped, the next ``reference_hours`` build its reference, and from ``reference_end_ms``
on every event-time hour is a window, checked in order (``next_ms``: the next hour to check).

>>> p = VersionProgress.starting(7_200_123, warmup_hours=1, reference_hours=2)
>>> (p.since_ms, p.reference_start_ms, p.reference_end_ms, p.next_ms)
(7200000, 10800000, 18000000, 18000000)
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace

from stream_sentinel.logic.drift.window import HOUR_MS, hour_start


@dataclass(frozen=True, slots=True)
class VersionProgress:
    since_ms: int
    reference_start_ms: int
    reference_end_ms: int
    next_ms: int  # the start of the next hour to check
    reference_built: bool = False
    reference_rows: dict[str, int] = field(default_factory=dict)  # partition -> rows kept
    #: partition -> rows after the reference hours kept until it is built (capped like them)
    later_rows: dict[str, int] = field(default_factory=dict)
    #: "partition:hour" -> reference rows kept of that hour (each hour gets an equal share)
    hour_rows: dict[str, int] = field(default_factory=dict)
    last_retrain_ms: int | None = None  # window start of the last retrain request
    #: rows in the reference hours once it was built (fewer than the minimum: no reference)
    reference_size: int | None = None
    last_row_ms: int | None = None  # event time of its latest row

    @classmethod
    def starting(cls, first_ts_ms: int, warmup_hours: int, reference_hours: int) -> VersionProgress:
        since = hour_start(first_ts_ms)
        start = since + warmup_hours * HOUR_MS
        end = start + reference_hours * HOUR_MS
        return cls(since, start, end, end)

    def seen(self, latest_row_ms: int) -> VersionProgress:
        return self.with_(last_row_ms=max(latest_row_ms, self.last_row_ms or latest_row_ms))

    @property
    def dormant(self) -> bool:
        """Built, and every hour it had rows in checked (a retired version: skipped until it
        scores rows again)."""
        last = self.last_row_ms
        return self.reference_built and last is not None and self.next_ms > last

    def with_(self, **changes: object) -> VersionProgress:
        return replace(self, **changes)  # type: ignore[arg-type]

    def encode(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True).encode()

    @classmethod
    def decode(cls, blob: bytes) -> VersionProgress:
        return cls(**json.loads(blob))
