"""Guard rails: checks that need no labels and stop an experiment at once when breached.

Labels take days; a challenger that alerts on a third of the traffic or declines every payment
must be stopped in minutes. Each arm's traffic (rows decided, alerts raised, declines, scoring
time) is compared with the champion's as a ratio of rates, once both arms have decided at least
``min_rows`` rows (fewer, and one unlucky minute would stop a good challenger), and only on a
challenger with at least ``min_events`` of the kind (a handful of declines is noise, whatever
the ratio). A champion with none yet counts as having one, so the ratio stays finite.

>>> champion = ArmTraffic(rows=10_000, alerts=200, declines=50, scoring_us=40_000.0)
>>> challenger = ArmTraffic(rows=10_000, alerts=900, declines=60, scoring_us=50_000.0)
>>> [b.message() for b in breaches(champion, challenger, Limits())]
['alert rate 9.00% vs 2.00% on the champion: 4.50x, above the limit 2.00x']
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ArmTraffic:
    """What one arm decided, counted without labels."""

    rows: int = 0
    alerts: int = 0
    declines: int = 0
    scoring_us: float = 0.0  # total scoring time of its rows (model cost)


@dataclass(frozen=True)
class Limits:
    """How far the challenger's rates may exceed the champion's before the experiment stops."""

    alert_rate_ratio: float = 2.0
    decline_rate_ratio: float = 2.0
    latency_ratio: float = 3.0
    min_rows: int = 2_000
    min_events: int = 10


@dataclass(frozen=True)
class Breach:
    rail: str  # "alert_rate", "decline_rate" or "latency"
    champion: float
    challenger: float
    ratio: float
    limit: float

    def message(self) -> str:
        if self.rail == "latency":
            values = f"{self.challenger:.1f} us/row vs {self.champion:.1f} us/row"
        else:
            values = f"{self.challenger:.2%} vs {self.champion:.2%}"
        name = self.rail.replace("_", " ")
        return (
            f"{name} {values} on the champion: {self.ratio:.2f}x, above the limit {self.limit:.2f}x"
        )


def breaches(champion: ArmTraffic, challenger: ArmTraffic, limits: Limits) -> list[Breach]:
    """The rails the challenger breaks (empty while either arm has fewer than min_rows)."""
    if min(champion.rows, challenger.rows) < limits.min_rows:
        return []
    checks = (
        ("alert_rate", champion.alerts, challenger.alerts, limits.alert_rate_ratio),
        ("decline_rate", champion.declines, challenger.declines, limits.decline_rate_ratio),
    )
    found = []
    for rail, ours, theirs, limit in checks:
        base, rate = max(ours, 1) / champion.rows, theirs / challenger.rows
        if theirs >= limits.min_events and rate / base > limit:
            found.append(Breach(rail, base, rate, rate / base, limit))
    if champion.scoring_us > 0:
        base = champion.scoring_us / champion.rows
        cost = challenger.scoring_us / challenger.rows
        if cost / base > limits.latency_ratio:
            found.append(Breach("latency", base, cost, cost / base, limits.latency_ratio))
    return found
