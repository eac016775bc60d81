"""What the experiments service keeps of each decision and label until the label deadline, and
what a settled bucket of them adds to the counters (:mod:`.counting`).

A decision is kept only when it is not the common case. Most rows were scored by both models,
flagged by neither, and decided by the champion: such a row is kept as nothing at all, and a
fraud label for it counts as missed by both. A row is kept, as one character, when a model
flagged it, when the challenger decided it (split mode), or when it was not scored by both
(a challenger still loading, a rules-only row): such a row's fraud is not counted, since one
arm had no say. So what the service holds grows with the alert rate and the challenger's
share, not with the traffic.

Rows and labels are kept in buckets of event time; a bucket is settled (each labelled
transaction counted once, with its effective label as of its own deadline) once the event
clock has passed the bucket's end plus the deadline.

>>> code = RowCode(arm=0, champion_flagged=True, challenger_flagged=False, unscored=False)
>>> RowCode.decode(code.encode()) == code, DEFAULT.encode()
(True, '0')
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from stream_sentinel.learning.labels import SourcedLabel, effective
from stream_sentinel.logic.experiments.counting import Decided, Kept, settle

HOUR_MS = 3_600_000
SECOND_MS = 1000


@dataclass(frozen=True)
class RowCode:
    """What one decision leaves for its label, packed in one character (a hex digit)."""

    arm: int
    champion_flagged: bool
    challenger_flagged: bool
    unscored: bool  # one of the two models did not score the row: its fraud is not counted

    def encode(self) -> str:
        bits = self.arm | self.champion_flagged << 1 | self.challenger_flagged << 2
        return format(bits | self.unscored << 3, "x")

    @classmethod
    def decode(cls, text: str | bytes) -> RowCode:
        bits = int(text, 16)
        return cls(bits & 1, bool(bits & 2), bool(bits & 4), bool(bits & 8))

    @property
    def kept(self) -> Kept:
        return Kept(self.arm, self.champion_flagged, self.challenger_flagged)


DEFAULT = RowCode(0, False, False, False)


def bucket_width(deadline_ms: int) -> int:
    """Buckets of an hour, or of 1/24 of a shorter deadline (at least a second): a transaction
    is counted at most a bucket after its deadline."""
    return max(SECOND_MS, min(HOUR_MS, deadline_ms // 24))


@dataclass(frozen=True)
class Buckets:
    """The bucket arithmetic of one deadline."""

    deadline_ms: int

    @property
    def width(self) -> int:
        return bucket_width(self.deadline_ms)

    def of(self, event_time: int) -> int:
        return event_time // self.width

    def due_until(self, clock_ms: int) -> int:
        """The last bucket whose every transaction's deadline has passed at ``clock_ms``."""
        return (clock_ms - self.deadline_ms) // self.width - 1


def row_code(decided: Decided, scored: bool) -> RowCode:
    """How a decision is kept (``scored``: by the models the experiment needs, both in shadow
    mode, the arm's in split mode); :data:`DEFAULT` rows need not be kept at all."""
    return RowCode(decided.arm, decided.champion_flagged, decided.challenger_flagged, not scored)


UNTAGGED = RowCode(0, False, False, True)  # decided by a detector that had not read the experiment


# -- labels ------------------------------------------------------------------------------------
def merge_label(stored: str | bytes | None, label: SourcedLabel) -> str:
    """The transaction's kept labels (per source: label and label time) with ``label`` added;
    within a source the later label wins and of two at the same time the first, as in the
    feedback store (a re-delivered label changes nothing)."""
    sources: dict[str, list[object]] = json.loads(stored) if stored else {}
    held = sources.get(label.source)
    if held is None or int(str(held[1])) < label.label_time:
        sources[label.source] = [label.label, label.label_time]
    return json.dumps(sources, sort_keys=True, separators=(",", ":"))


def effective_label(stored: str | bytes) -> str:
    """The label that counts: the feedback store's precedence over the kept labels (the
    intake keeps none given after the transaction's deadline)."""
    held = {
        source: SourcedLabel(source, label, 0, int(label_time))
        for source, (label, label_time) in json.loads(stored).items()
    }
    return effective(held).label


@dataclass(frozen=True)
class Settled:
    """What one bucket added: the counter increments, the frauds counted and left out."""

    increments: dict[str, float]
    frauds: int
    unscored: int  # labelled frauds one model had not scored (not counted)


def flagged(mode: str, codes: Mapping[str, str | bytes]) -> dict[str, float]:
    """What a settled bucket's kept rows add to each arm's ``flagged`` (the rows it flagged,
    precision's denominator): shadow, each model's flags; split, the deciding arm's."""
    out = {"0:flagged": 0.0, "1:flagged": 0.0}
    for found in codes.values():
        code = RowCode.decode(found)
        if code.unscored:
            continue
        if mode == "shadow" or code.arm == 0:
            out["0:flagged"] += code.champion_flagged
        if mode == "shadow" or code.arm == 1:
            out["1:flagged"] += code.challenger_flagged
    return {name: value for name, value in out.items() if value}


def settle_bucket(
    mode: str,
    labels: Mapping[str, str | bytes],
    codes: Mapping[str, str | bytes | None],
) -> Settled:
    """Count one bucket: ``labels`` maps each labelled transaction to its kept labels,
    ``codes`` to its kept row (None: a default row)."""
    out: dict[str, float] = {}
    frauds = unscored = 0
    for transaction_id, stored in sorted(labels.items()):
        label = effective_label(stored)
        if label != "FRAUD":
            continue
        found = codes.get(transaction_id)
        code = DEFAULT if found is None else RowCode.decode(found)
        if code.unscored:
            unscored += 1
            continue
        frauds += 1
        for name, amount in settle(code.kept.labelled(label), mode).items():
            out[name] = out.get(name, 0.0) + amount
    return Settled(out, frauds, unscored)
