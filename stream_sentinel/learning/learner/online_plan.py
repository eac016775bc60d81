"""Which logged rows the online model learns next, with which label and weight: pure.

The online model learns by the batch path's rules (:mod:`.trainingset`), one row at a time:

* a row is learnable once its label is known (``label_time <= now``; the label that counts is
  :func:`~.trainingset.known_label`'s), or, never labelled, once it is older than the label
  delay (before ``now - label_delay``), as legitimate, if it is in the one-in-N sample
  (weighted N, as in batch training);
* a row of another feature set is never learned; a row with a label dated before its decision
  (``leaky``) is never learned;
* each row is learned once: the position (:class:`Position`) is a cursor in event time (every
  row before it has been dealt with) and the labelled rows after it already learned (they were
  learned early, when their label came, before they matured);
* the rows of one update are learned in event-time order (ties by transaction id).

A labelled row is learned with the label known when it is first learnable; a later label that
overrides it (a chargeback after a customer's report) cannot be unlearned, where a batch
retrain would use the later one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from stream_sentinel.learning.labels import SourcedLabel
from stream_sentinel.learning.learner.rows import LoggedRow
from stream_sentinel.learning.learner.trainingset import FRAUD, kept_by_sample, known_label
from stream_sentinel.logic.feature_set import LIVE_HASH
from stream_sentinel.logic.features import FEATURES


@dataclass(frozen=True, slots=True)
class Position:
    """How far the online model has learned: every row before ``cursor_ms`` was dealt with;
    ``early`` holds the rows at or after it learned already (transaction id -> event time)."""

    cursor_ms: int
    early: Mapping[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        return {"cursor_ms": self.cursor_ms, "early": dict(sorted(self.early.items()))}

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> Position:
        early = data.get("early") or {}
        assert isinstance(early, Mapping)
        return cls(int(str(data["cursor_ms"])), {str(t): int(e) for t, e in early.items()})


@dataclass(frozen=True, slots=True)
class Step:
    """One row to learn: the row, fraud or not, its weight."""

    row: LoggedRow
    fraud: bool
    weight: int


@dataclass(frozen=True, slots=True)
class Plan:
    steps: tuple[Step, ...]
    position: Position  # where the model is once the steps are learned


def plan(
    rows: Mapping[str, LoggedRow],
    labels: Mapping[str, Sequence[SourcedLabel]],
    position: Position,
    now_ms: int,
    label_delay_ms: int,
    keep_one_in: int = 1,
) -> Plan:
    """The rows to learn at ``now_ms`` from ``position`` (see the module docstring). ``rows``
    must hold every row at or after the cursor that may be learnable."""
    mature_end = max(now_ms - label_delay_ms, position.cursor_ms)
    steps: list[Step] = []
    for row in sorted(rows.values(), key=lambda r: (r.event_time, r.transaction_id)):
        if row.event_time < position.cursor_ms or row.transaction_id in position.early:
            continue
        step = _learnable(row, labels.get(row.transaction_id, ()), now_ms, mature_end, keep_one_in)
        if step is not None:
            steps.append(step)
    early = {t: e for t, e in position.early.items() if e >= mature_end}
    early.update(
        {s.row.transaction_id: s.row.event_time for s in steps if s.row.event_time >= mature_end}
    )
    return Plan(tuple(steps), Position(mature_end, early))


def _learnable(
    row: LoggedRow,
    found: Sequence[SourcedLabel],
    now_ms: int,
    mature_end: int,
    keep_one_in: int,
) -> Step | None:
    if row.feature_set_hash != LIVE_HASH or len(row.features) != len(FEATURES):
        return None
    if any(lab.label_time < row.decided_time for lab in found if lab.label_time <= now_ms):
        return None  # leaky, as in the batch join
    label = known_label(found, now_ms)
    if label is not None:
        return Step(row, label.label == FRAUD, 1)
    if row.event_time >= mature_end or not kept_by_sample(row.transaction_id, keep_one_in):
        return None  # still waiting for a label, or outside the sample
    return Step(row, False, keep_one_in)
