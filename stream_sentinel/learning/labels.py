"""Labels from several sources for one transaction: which one counts, and what disagrees.

Precedence (highest first): a CHARGEBACK is final (the card network settled it), an ANALYST's
verdict beats a CUSTOMER's report, and OTHER counts least. Within one source the later label
wins (an analyst may revise a verdict); a re-delivered label changes nothing. A conflict is a
pair of sources that *starts* disagreeing about a transaction, counted for the pair as
``"{winner}>{loser}"``: a label re-sent while the pair still disagrees is not counted again, a
pair that came to agree and disagrees anew is. Pure: plain values in and out.

>>> cb = SourcedLabel("CHARGEBACK", "FRAUD", event_time=0, label_time=5)
>>> customer = SourcedLabel("CUSTOMER", "LEGIT", event_time=0, label_time=9)
>>> change = combine({"CHARGEBACK": cb}, customer)
>>> change.effective.source, change.conflicts
('CHARGEBACK', ('CHARGEBACK>CUSTOMER',))
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

#: Sources in precedence order, strongest first.
PRECEDENCE = ("CHARGEBACK", "ANALYST", "CUSTOMER", "OTHER")
RANK = {source: len(PRECEDENCE) - i for i, source in enumerate(PRECEDENCE)}

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS
#: Upper bounds of the label-delay histogram; a percentile is reported as its bucket's bound.
DELAY_BOUNDS_MS = (
    MINUTE_MS,
    15 * MINUTE_MS,
    HOUR_MS,
    6 * HOUR_MS,
    DAY_MS,
    2 * DAY_MS,
    3 * DAY_MS,
    7 * DAY_MS,
    14 * DAY_MS,
    30 * DAY_MS,
    60 * DAY_MS,
    90 * DAY_MS,
)


@dataclass(frozen=True, slots=True)
class SourcedLabel:
    """One source's label for a transaction."""

    source: str
    label: str
    event_time: int
    label_time: int
    confidence: float = 1.0
    pattern: str = ""
    user_id: str = ""
    merchant_id: str = ""

    @property
    def delay_ms(self) -> int:
        return max(self.label_time - self.event_time, 0)

    def encode(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True).encode()

    @classmethod
    def decode(cls, blob: bytes) -> SourcedLabel:
        data: dict[str, Any] = json.loads(blob)
        return cls(**data)

    @classmethod
    def of_record(cls, record: Mapping[str, Any]) -> SourcedLabel:
        """From a decoded Feedback record (``fraud-feedback``)."""
        return cls(
            source=str(record["source"]),
            label=str(record["label"]),
            event_time=int(record["event_time"]),
            label_time=int(record["label_time"]),
            confidence=float(record.get("confidence", 1.0)),
            pattern=str(record.get("pattern") or ""),
            user_id=str(record.get("user_id") or ""),
            merchant_id=str(record.get("merchant_id") or ""),
        )


@dataclass(frozen=True, slots=True)
class LabelChange:
    """What one incoming label does: ``changed`` False for a re-delivered or stale one."""

    changed: bool
    effective: SourcedLabel
    previous: SourcedLabel | None
    conflicts: tuple[str, ...] = field(default=())


def effective(labels: Mapping[str, SourcedLabel]) -> SourcedLabel:
    """The label that counts: the strongest source's (latest within a source, already kept)."""
    return max(labels.values(), key=lambda lab: (RANK.get(lab.source, 0), lab.label_time))


def combine(stored: Mapping[str, SourcedLabel], incoming: SourcedLabel) -> LabelChange:
    """The change ``incoming`` makes to a transaction's stored labels (one per source)."""
    previous = effective(stored) if stored else None
    same_source = stored.get(incoming.source)
    if same_source is not None and same_source.label_time >= incoming.label_time:
        return LabelChange(False, effective(stored), previous)
    merged = {**stored, incoming.source: incoming}
    started = disagreeing(merged) - disagreeing(stored)
    return LabelChange(True, effective(merged), previous, tuple(sorted(started)))


def disagreeing(labels: Mapping[str, SourcedLabel]) -> set[str]:
    """The pairs of sources (``"{winner}>{loser}"``) whose labels differ.

    >>> sorted(disagreeing({s: SourcedLabel(s, v, 0, 0) for s, v in
    ...     [("ANALYST", "LEGIT"), ("CUSTOMER", "FRAUD"), ("OTHER", "FRAUD")]}))
    ['ANALYST>CUSTOMER', 'ANALYST>OTHER']
    """
    found = list(labels.values())
    return {_pair(a, b) for i, a in enumerate(found) for b in found[i + 1 :] if a.label != b.label}


def _pair(a: SourcedLabel, b: SourcedLabel) -> str:
    winner, loser = sorted((a, b), key=lambda lab: -RANK.get(lab.source, 0))
    return f"{winner.source}>{loser.source}"


def delay_bucket(delay_ms: int) -> int:
    """The histogram bucket of a delay: its index in DELAY_BOUNDS_MS (len: beyond the last)."""
    return bisect.bisect_left(DELAY_BOUNDS_MS, delay_ms)


def percentile_bucket(buckets: Mapping[int, int], q: float) -> int | None:
    """The bucket holding the q-quantile delay (None without labels).

    >>> percentile_bucket({0: 5, 4: 5}, 0.5), percentile_bucket({0: 5, 12: 5}, 0.9)
    (0, 12)
    """
    total = sum(buckets.values())
    seen = 0
    for bucket in sorted(buckets):
        seen += buckets[bucket]
        if seen >= q * total:
            return bucket
    return None


def bucket_bound_ms(bucket: int) -> int | None:
    """A bucket's upper bound in ms; None for the last one (past 90 d), which has no bound."""
    return DELAY_BOUNDS_MS[bucket] if bucket < len(DELAY_BOUNDS_MS) else None


def format_bucket(bucket: int | None, bounds: Sequence[int] = DELAY_BOUNDS_MS) -> str:
    """``<= 6h``, ``<= 7d``, ``> 90d`` (the last bucket) or ``-`` (no labels)."""
    if bucket is None:
        return "-"
    if bucket >= len(bounds):
        return f"> {bounds[-1] // DAY_MS}d"
    ms = bounds[bucket]
    if ms < HOUR_MS:
        return f"<= {ms // MINUTE_MS}m"
    if ms < DAY_MS:
        return f"<= {ms // HOUR_MS}h"
    return f"<= {ms // DAY_MS}d"
