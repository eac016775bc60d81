"""A logged decision's feature row as the learner keeps it: packed bytes, one per transaction.

The row is what ``decision-features`` carried (the vector the model scored at decision time),
never features recomputed later, with the hash of the feature set it was built with. Packed as
little-endian ``event_time, decided_time`` (int64), the feature count (uint16), the hash's
length (uint8), the vector (float64 each), the hash and the user id (UTF-8): 29 features make
267 bytes plus the user id.

>>> row = LoggedRow("t1", "u1", 3_600_000, 3_600_010, (1.5, 2.0))
>>> LoggedRow.unpack("t1", row.pack()) == row
True
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from stream_sentinel.logic.feature_set import LIVE_HASH

HOUR_MS = 3_600_000
_HEAD = struct.Struct("<qqHB")


@dataclass(frozen=True, slots=True)
class LoggedRow:
    """One decision's logged features."""

    transaction_id: str
    user_id: str
    event_time: int
    decided_time: int
    features: tuple[float, ...]
    #: The feature set the detector built the vector with (:data:`LIVE_HASH` today).
    feature_set_hash: str = LIVE_HASH

    def pack(self) -> bytes:
        stamp = self.feature_set_hash.encode()
        head = _HEAD.pack(self.event_time, self.decided_time, len(self.features), len(stamp))
        vector = struct.pack(f"<{len(self.features)}d", *self.features)
        return head + vector + stamp + self.user_id.encode()

    @classmethod
    def unpack(cls, transaction_id: str, blob: bytes) -> LoggedRow:
        event_time, decided_time, width, stamp = _HEAD.unpack_from(blob)
        end = _HEAD.size + 8 * width
        vector = struct.unpack_from(f"<{width}d", blob, _HEAD.size)
        user = blob[end + stamp :].decode()
        found = blob[end : end + stamp].decode()
        return cls(transaction_id, user, event_time, decided_time, vector, found)

    @classmethod
    def of_record(cls, record: Mapping[str, Any]) -> LoggedRow:
        """From a decoded DecisionFeatures record."""
        return cls(
            str(record["transaction_id"]),
            str(record["user_id"]),
            int(record["event_time"]),
            int(record["decided_time"]),
            tuple(float(v) for v in record["features"]),
            str(record.get("feature_set_hash") or ""),
        )


def hour_of(event_time_ms: int) -> int:
    """The event-hour bucket a transaction's row and labels are kept in."""
    return event_time_ms // HOUR_MS
