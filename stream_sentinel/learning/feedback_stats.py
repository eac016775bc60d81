"""What `feedback stats` shows: labels per day and source, fraud share, delays, conflicts."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from stream_sentinel.learning import keys
from stream_sentinel.learning.labels import (
    PRECEDENCE,
    bucket_bound_ms,
    format_bucket,
    percentile_bucket,
)
from stream_sentinel.state.base import Batch, StateStore

QUANTILES = (0.5, 0.9, 0.99)
#: What ``labels:effective`` counts: each transaction once, under its current effective label,
#: from its first label on. Its labels expire 180 days after its last one and the count is not
#: reduced then, so a transaction labelled again after that is counted a second time.
EFFECTIVE_LINE = "transactions by effective label (all time; relabelled after expiry counts again)"


@dataclass(frozen=True)
class SourceDay:
    """One source's labels on one day."""

    day: str
    source: str
    labels: int
    fraud: int
    delays: dict[int, int]

    @property
    def fraud_share(self) -> float:
        return self.fraud / self.labels if self.labels else 0.0

    def delay_bucket(self, q: float) -> int | None:
        """The delay histogram bucket of the q-quantile (None without labels)."""
        return percentile_bucket(self.delays, q)

    def delay_ms(self, q: float) -> int | None:
        """The q-quantile delay as its bucket's upper bound; None past the last bound (90 d)."""
        bucket = self.delay_bucket(q)
        return None if bucket is None else bucket_bound_ms(bucket)

    def to_json(self) -> dict[str, Any]:
        return {
            "day": self.day,
            "source": self.source,
            "labels": self.labels,
            "fraud": self.fraud,
            "fraud_share": round(self.fraud_share, 6),
            "delay_ms": {f"p{round(q * 100)}": self.delay_ms(q) for q in QUANTILES},
        }


@dataclass(frozen=True)
class FeedbackStats:
    rows: list[SourceDay]
    conflicts: dict[str, int]
    effective: dict[str, int] = field(default_factory=dict)

    @property
    def labels(self) -> int:
        return sum(row.labels for row in self.rows)

    def to_json(self) -> dict[str, Any]:
        return {
            "labels": self.labels,
            "by_day": [row.to_json() for row in self.rows],
            "conflicts": self.conflicts,
            "transactions": self.effective,
        }

    def lines(self) -> list[str]:
        """The plain-text report (what `feedback stats` prints)."""
        head = f"{'day':<11}{'source':<12}{'labels':>7}{'fraud':>7}{'share':>8}  delay p50/p90/p99"
        out = [head]
        for row in self.rows:
            delays = "/".join(format_bucket(row.delay_bucket(q)) for q in QUANTILES)
            out.append(
                f"{row.day:<11}{row.source:<12}{row.labels:>7,}{row.fraud:>7,}"
                f"{row.fraud_share:>8.1%}  {delays}"
            )
        conflicts = ", ".join(f"{k} {v:,}" for k, v in sorted(self.conflicts.items()))
        split = ", ".join(f"{k} {v:,}" for k, v in sorted(self.effective.items()))
        out.append(f"conflicts: {conflicts or 'none'}")
        out.append(f"{EFFECTIVE_LINE}: {split or 'none'}")
        return out


def read_stats(store: StateStore, days: int | None = None) -> FeedbackStats:
    """The counters of the latest ``days`` days with labels (all of them by default)."""
    [listed] = store.execute(
        Batch().zrangebyscore(keys.FEEDBACK, keys.LABEL_DAYS, float("-inf"), float("inf"))
    )
    chosen = [day for day, _ in listed][-days:] if days else [day for day, _ in listed]
    batch = Batch().hgetall(keys.FEEDBACK, keys.LABEL_CONFLICTS)
    batch.hgetall(keys.FEEDBACK, keys.LABEL_EFFECTIVE)
    for day in chosen:
        batch.hgetall(keys.FEEDBACK, keys.label_day(day))
    conflicts, effective, *counters = store.execute(batch)
    rows = [row for day, c in zip(chosen, counters, strict=True) for row in _rows(day, c)]
    return FeedbackStats(rows, _ints(conflicts), {k: v for k, v in _ints(effective).items() if v})


def _rows(day: str, counters: dict[str, bytes]) -> list[SourceDay]:
    labels: dict[str, dict[str, int]] = defaultdict(dict)
    delays: dict[str, dict[int, int]] = defaultdict(dict)
    for name, value in counters.items():
        if name.startswith("delay:"):
            _, source, bucket = name.split(":")
            delays[source][int(bucket)] = int(value)
        else:
            source, label = name.split(":", 1)
            labels[source][label] = int(value)
    order = {s: i for i, s in enumerate(PRECEDENCE)}
    return [
        SourceDay(day, s, sum(labels[s].values()), labels[s].get("FRAUD", 0), delays[s])
        for s in sorted(labels, key=lambda s: (order.get(s, len(order)), s))
    ]


def _ints(found: dict[str, bytes]) -> dict[str, int]:
    return {k: int(v) for k, v in sorted(found.items())}
