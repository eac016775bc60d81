"""A labelled history as typed columns, in event-time order: what a backtest replays."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class History:
    """Transactions as columns (one row per transaction) with their ground truth.

    Ids are strings; optional text fields hold None where missing, optional numbers NaN;
    enum fields hold codes into their symbol lists (see :mod:`.mapping`).
    """

    transaction_id: list[str]
    user_id: list[str]
    amount: np.ndarray  # float64
    timestamp: np.ndarray  # int64 epoch ms, UTC
    labels: np.ndarray  # int8 0/1
    lines: np.ndarray  # int64: where each row is in the file
    text: dict[str, list[str | None]] = field(default_factory=dict)
    numbers: dict[str, np.ndarray] = field(default_factory=dict)
    symbols: dict[str, np.ndarray] = field(default_factory=dict)  # int8 codes

    def __len__(self) -> int:
        return len(self.transaction_id)

    def take(self, rows: np.ndarray) -> History:
        """The rows at these positions (an index array or a boolean mask), in that order."""
        index = np.flatnonzero(rows) if rows.dtype == bool else rows
        positions = index.tolist()
        return History(
            [self.transaction_id[i] for i in positions],
            [self.user_id[i] for i in positions],
            self.amount[index],
            self.timestamp[index],
            self.labels[index],
            self.lines[index],
            {k: [v[i] for i in positions] for k, v in self.text.items()},
            {k: v[index] for k, v in self.numbers.items()},
            {k: v[index] for k, v in self.symbols.items()},
        )

    def window(self, start: int, stop: int) -> History:
        """Rows ``start .. stop-1`` (arrays are views, lists are copied references)."""
        return History(
            self.transaction_id[start:stop],
            self.user_id[start:stop],
            self.amount[start:stop],
            self.timestamp[start:stop],
            self.labels[start:stop],
            self.lines[start:stop],
            {k: v[start:stop] for k, v in self.text.items()},
            {k: v[start:stop] for k, v in self.numbers.items()},
            {k: v[start:stop] for k, v in self.symbols.items()},
        )

    def in_time_order(self) -> History:
        """Sorted by event time; rows with the same time keep their file order."""
        order = np.argsort(self.timestamp, kind="stable")
        if np.array_equal(order, np.arange(len(order))):
            return self
        return self.take(order)

    def first_unsorted_line(self) -> int | None:
        """The line of the first row whose time is earlier than the row before it."""
        behind = np.flatnonzero(np.diff(self.timestamp) < 0)
        return int(self.lines[behind[0] + 1]) if len(behind) else None
