"""A logged decision's feature row as the learner keeps it: packed bytes, one per transaction.

The row is what ``decision-features`` carried (the vector the model scored at decision time),
never features recomputed later. Packed as little-endian ``event_time, decided_time`` (int64),
the feature count (uint16), the vector (float64 each) and the user id (UTF-8): 29 features make
250 bytes plus the user id.

>>> row = LoggedRow("t1", "u1", 3_600_000, 3_600_010, (1.5, 2.0))
>>> LoggedRow.unpack("t1", row.pack()) == row
True
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

HOUR_MS = 3_600_000
_HEAD = struct.Struct("<qqH")


@dataclass(frozen=True, slots=True)
class LoggedRow:
    """One decision's logged features."""

    transaction_id: str
    user_id: str
    event_time: int
    decided_time: int
    features: tuple[float, ...]

    def pack(self) -> bytes:
        head = _HEAD.pack(self.event_time, self.decided_time, len(self.features))
        vector = struct.pack(f"<{len(self.features)}d", *self.features)
        return head + vector + self.user_id.encode()

    @classmethod
    def unpack(cls, transaction_id: str, blob: bytes) -> LoggedRow:
        event_time, decided_time, width = _HEAD.unpack_from(blob)
        end = _HEAD.size + 8 * width
        vector = struct.unpack_from(f"<{width}d", blob, _HEAD.size)
        return cls(transaction_id, blob[end:].decode(), event_time, decided_time, vector)

    @classmethod
    def of_record(cls, record: Mapping[str, Any]) -> LoggedRow:
        """From a decoded DecisionFeatures record."""
        return cls(
            str(record["transaction_id"]),
            str(record["user_id"]),
            int(record["event_time"]),
            int(record["decided_time"]),
            tuple(float(v) for v in record["features"]),
        )


def hour_of(event_time_ms: int) -> int:
    """The event-hour bucket a transaction's row and labels are kept in."""
    return event_time_ms // HOUR_MS
