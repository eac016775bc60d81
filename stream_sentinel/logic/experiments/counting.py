"""What one decision and one label add to an experiment's counters (names as in
:mod:`.standing`).

A decision adds traffic at once: in ``split`` mode to the arm that decided it; in ``shadow``
mode to both, the challenger's alerts being the rows it would have flagged (it declines
nothing: it decides nothing). Recall needs the label, which comes days later, so the decision
is kept (:class:`Kept`: arm and each model's flag) until then. A label adds to the recall
counters only while it is the transaction's *effective* label (the feedback store's precedence:
a chargeback beats an analyst beats a customer); when a later label changes the effective one,
:func:`relabel` takes the old one's counts back and adds the new one's, so the counters always
hold the effective labels, each transaction once.

>>> kept = Kept(arm=0, champion_flagged=False, challenger_flagged=True)
>>> relabel(kept, None, "FRAUD", "shadow")["pair:sum"]
1.0
>>> relabel(kept, "FRAUD", "LEGIT", "shadow")["pair:sum"]
-1.0
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Decided:
    """One decision made while an experiment ran."""

    arm: int  # who decided: 0 the champion, 1 the challenger (shadow: always 0)
    champion_flagged: bool  # the champion's score at or above its alerting threshold
    challenger_flagged: bool  # the challenger's score at or above its own alerting threshold
    declined: bool  # the decision taken was DECLINE
    scoring_us: float = 0.0  # the model cost of this row for the arm(s) that scored it

    @property
    def kept(self) -> Kept:
        return Kept(self.arm, self.champion_flagged, self.challenger_flagged)


@dataclass(frozen=True)
class Kept:
    """What a decision leaves for its label."""

    arm: int
    champion_flagged: bool
    challenger_flagged: bool

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
            for arm, flagged in ((0, row.champion_flagged), (1, row.challenger_flagged)):
                out[f"{arm}:rows"] += 1
                out[f"{arm}:alerts"] += flagged
                out[f"{arm}:scoring_us"] += row.scoring_us
            out["0:declines"] += row.declined
        else:
            flagged = row.challenger_flagged if row.arm else row.champion_flagged
            out[f"{row.arm}:rows"] += 1
            out[f"{row.arm}:alerts"] += flagged
            out[f"{row.arm}:declines"] += row.declined
            out[f"{row.arm}:scoring_us"] += row.scoring_us
    return {name: float(value) for name, value in out.items() if value}


def _fraud(kept: Kept, mode: str, sign: float) -> dict[str, float]:
    if mode == "shadow":
        ours, theirs = int(kept.champion_flagged), int(kept.challenger_flagged)
        diff = theirs - ours
        return {
            "0:frauds": sign,
            "1:frauds": sign,
            "0:caught": sign * ours,
            "1:caught": sign * theirs,
            "pair:n": sign,
            "pair:sum": sign * diff,
            "pair:squares": sign * diff * diff,
        }
    flagged = kept.challenger_flagged if kept.arm else kept.champion_flagged
    return {f"{kept.arm}:frauds": sign, f"{kept.arm}:caught": sign * int(flagged)}


def relabel(kept: Kept, before: str | None, after: str, mode: str) -> dict[str, float]:
    """The counters a change of the effective label (``before`` -> ``after``; None: the first
    label) adds. Only FRAUD labels count towards recall, so LEGIT -> LEGIT adds nothing."""
    out: defaultdict[str, float] = defaultdict(float)
    for label, sign in ((before, -1.0), (after, 1.0)):
        if label == "FRAUD":
            for name, value in _fraud(kept, mode, sign).items():
                out[name] += value
    return {name: float(value) for name, value in out.items() if value}
