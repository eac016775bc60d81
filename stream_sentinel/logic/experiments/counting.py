"""What one decision and, at its deadline, its label add to an experiment's counters (names
as in :mod:`.standing`).

A decision adds traffic at once: in ``split`` mode to the arm that decided it; in ``shadow``
mode to both, the challenger's alerts being the rows it would have flagged (it declines
nothing: it decides nothing), each arm with its own scoring cost. Recall needs the label, and
*when* labels arrive depends on the outcome: a fraud the decider flagged is investigated and
labelled within days, one it missed comes back as a chargeback weeks later. Counting labels as
they arrive would feed the test the champion's catches first and make any challenger look
worse. So the decision is kept (:class:`Kept`, with the effective label it has so far, the
feedback store's precedence deciding) and counted once, at its deadline (decision time + the
experiment's label deadline), by :func:`settle`; a label arriving later is not counted.

>>> kept = Kept(arm=0, champion_flagged=False, challenger_flagged=True)
>>> settle(kept, "shadow"), settle(kept.labelled("FRAUD"), "shadow")["pair:sum"]
({}, 1.0)
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Decided:
    """One decision made while an experiment ran."""

    arm: int  # who decided: 0 the champion, 1 the challenger (shadow: always 0)
    champion_flagged: bool  # the champion's score at or above its alerting threshold
    challenger_flagged: bool  # the challenger's score at or above its own alerting threshold
    declined: bool  # the decision taken was DECLINE
    champion_us: float = 0.0  # what scoring this row cost each model (0: it did not score it)
    challenger_us: float = 0.0

    @property
    def kept(self) -> Kept:
        return Kept(self.arm, self.champion_flagged, self.challenger_flagged)


@dataclass(frozen=True)
class Kept:
    """What a decision leaves for its label."""

    arm: int
    champion_flagged: bool
    challenger_flagged: bool
    label: str | None = None  # the effective label so far (None: none yet)

    def labelled(self, label: str) -> Kept:
        return Kept(self.arm, self.champion_flagged, self.challenger_flagged, label)

    def encode(self) -> bytes:
        return json.dumps(asdict(self), separators=(",", ":")).encode()

    @classmethod
    def decode(cls, blob: bytes) -> Kept:
        return cls(**json.loads(blob))


def traffic(rows: Iterable[Decided], mode: str) -> dict[str, float]:
    """The traffic counters a batch of decisions adds."""
    out: defaultdict[str, float] = defaultdict(float)
    for row in rows:
        if mode == "shadow":
            arms = (
                (0, row.champion_flagged, row.champion_us),
                (1, row.challenger_flagged, row.challenger_us),
            )
            for arm, flagged, cost in arms:
                out[f"{arm}:rows"] += 1
                out[f"{arm}:alerts"] += flagged
                out[f"{arm}:scoring_us"] += cost
            out["0:declines"] += row.declined
        else:
            flagged = row.challenger_flagged if row.arm else row.champion_flagged
            out[f"{row.arm}:rows"] += 1
            out[f"{row.arm}:alerts"] += flagged
            out[f"{row.arm}:declines"] += row.declined
            out[f"{row.arm}:scoring_us"] += row.challenger_us if row.arm else row.champion_us
    return {name: float(value) for name, value in out.items() if value}


def settle(kept: Kept, mode: str) -> dict[str, float]:
    """What a decision adds at its deadline: to the recall counters if its effective label
    then is FRAUD (nothing otherwise)."""
    if kept.label != "FRAUD":
        return {}
    if mode == "shadow":
        ours, theirs = int(kept.champion_flagged), int(kept.challenger_flagged)
        diff = float(theirs - ours)
        counts = {
            "0:frauds": 1.0,
            "1:frauds": 1.0,
            "0:caught": float(ours),
            "1:caught": float(theirs),
            "pair:n": 1.0,
            "pair:sum": diff,
            "pair:squares": diff * diff,
        }
    else:
        flagged = kept.challenger_flagged if kept.arm else kept.champion_flagged
        counts = {f"{kept.arm}:frauds": 1.0, f"{kept.arm}:caught": float(flagged)}
    return {name: value for name, value in counts.items() if value}


def with_cost(counts: Mapping[str, float], cost: Mapping[str, float]) -> dict[str, float]:
    """``counts`` with each arm's ``scoring_us`` set from a measured cost (``"{arm}:us"`` over
    ``"{arm}:rows"``, sampled by the detectors) times the rows the arm decided, so the latency
    guard rail compares the two models' mean cost per row.

    >>> cost = {"0:us": 40.0, "0:rows": 4.0, "1:us": 80.0, "1:rows": 4.0}
    >>> with_cost({"0:rows": 10.0, "1:rows": 10.0}, cost)
    {'0:rows': 10.0, '1:rows': 10.0, '0:scoring_us': 100.0, '1:scoring_us': 200.0}
    """
    out = dict(counts)
    for arm in (0, 1):
        rows = cost.get(f"{arm}:rows", 0.0)
        if rows:
            per_row = cost.get(f"{arm}:us", 0.0) / rows
            out[f"{arm}:scoring_us"] = per_row * out.get(f"{arm}:rows", 0.0)
    return out
