"""What the demo knows about each transaction: ground truth, the detector's verdict, the label.

Indexed by the generator's sequence number (transaction ``t{seed}-0000000042`` is row 42), so
joining the three sources is array indexing. The ground truth (``pattern``) comes from the
simulator and is used here for evaluation only; the detector never sees it. Pure numpy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from stream_sentinel.domain import Decision
from stream_sentinel.logic.decisions import DECISIONS
from stream_sentinel.logic.rules import (
    BEHAVIOUR_RULES,
    STEP_UP_REQUIRED,
    USER_BLOCKED,
    WATCHED_USER,
)

#: Why a transaction got its verdict, one bit each (the detector's reason names).
REASONS: tuple[str, ...] = (USER_BLOCKED, STEP_UP_REQUIRED, WATCHED_USER, *BEHAVIOUR_RULES)
APPROVE = DECISIONS.index(Decision.APPROVE)
NO_LABEL = -1
INITIAL_CAPACITY = 1 << 16

I8 = npt.NDArray[np.int8]
I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
B = npt.NDArray[np.bool_]


def reason_mask(blocked: B, step_up: B, watched: B, fired: B) -> npt.NDArray[np.uint16]:
    """One bit per entry of :data:`REASONS` for each row (``fired``: rows x behaviour rules)."""
    flags = np.column_stack([blocked, step_up, watched, fired]).astype(np.uint16)
    weights = (1 << np.arange(len(REASONS))).astype(np.uint16)
    return (flags @ weights).astype(np.uint16)


def reason_names(mask: int) -> list[str]:
    return [name for bit, name in enumerate(REASONS) if mask & (1 << bit)]


@dataclass(frozen=True, slots=True)
class LedgerView:
    """The rows served so far, as read-only arrays (a consistent copy)."""

    pattern: I8  # ground truth: 0 legitimate, else catalog.PATTERN_NAMES
    decided: B
    score: F64
    level: I8
    decision: I8  # index into decisions.DECISIONS
    reasons: npt.NDArray[np.uint16]
    label: I8  # -1 none yet, 0 LEGIT, 1 FRAUD (as reported)

    def __len__(self) -> int:
        return len(self.pattern)

    @property
    def flagged(self) -> B:
        """Decided and not simply approved: held for review, challenged or declined."""
        return self.decided & (self.decision != APPROVE)

    @property
    def fraud(self) -> B:
        return self.pattern != 0


class Ledger:
    """Growing per-transaction columns; rows are added by seq in any order."""

    def __init__(self, capacity: int = INITIAL_CAPACITY) -> None:
        self.size = 0
        self._pattern = np.zeros(capacity, np.int8)
        self._decided = np.zeros(capacity, bool)
        self._score = np.full(capacity, np.nan)
        self._level = np.zeros(capacity, np.int8)
        self._decision = np.zeros(capacity, np.int8)
        self._reasons = np.zeros(capacity, np.uint16)
        self._label = np.full(capacity, NO_LABEL, np.int8)

    def add_sent(self, seq: I64, pattern: I8) -> None:
        """Transactions the generator published, with their ground truth."""
        if not len(seq):
            return
        self._reserve(int(seq.max()) + 1)
        self._pattern[seq] = pattern
        self.size = max(self.size, int(seq.max()) + 1)

    def add_verdicts(
        self, seq: I64, score: F64, level: I8, decision: I8, reasons: npt.NDArray[np.uint16]
    ) -> None:
        """The detector's committed decisions."""
        if not len(seq):
            return
        self._reserve(int(seq.max()) + 1)
        self._decided[seq] = True
        self._score[seq] = score
        self._level[seq] = level
        self._decision[seq] = decision
        self._reasons[seq] = reasons

    def add_labels(self, seq: I64, fraud: B) -> None:
        """Labels published to fraud-feedback (a later label replaces an earlier one)."""
        if not len(seq):
            return
        self._reserve(int(seq.max()) + 1)
        self._label[seq] = fraud.astype(np.int8)

    def pattern_of(self, seq: int) -> int:
        return int(self._pattern[seq]) if seq < self.size else 0

    def view(self) -> LedgerView:
        n = self.size
        return LedgerView(
            self._pattern[:n].copy(),
            self._decided[:n].copy(),
            self._score[:n].copy(),
            self._level[:n].copy(),
            self._decision[:n].copy(),
            self._reasons[:n].copy(),
            self._label[:n].copy(),
        )

    def _reserve(self, rows: int) -> None:
        capacity = len(self._pattern)
        if rows <= capacity:
            return
        grown = max(rows, 2 * capacity)
        self._pattern = _grow(self._pattern, grown, 0)
        self._decided = _grow(self._decided, grown, False)
        self._score = _grow(self._score, grown, np.nan)
        self._level = _grow(self._level, grown, 0)
        self._decision = _grow(self._decision, grown, 0)
        self._reasons = _grow(self._reasons, grown, 0)
        self._label = _grow(self._label, grown, NO_LABEL)


def _grow(column: np.ndarray, rows: int, fill: object) -> np.ndarray:
    grown = np.full(rows, fill, dtype=column.dtype)
    grown[: len(column)] = column
    return grown
