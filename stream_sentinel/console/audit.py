"""The audit log: every analyst or admin action, who did it, when, and what changed.

Entries are JSON documents in one capped Redis list (``console:audit`` in the pipeline
namespace, newest first), so they live beside the state they describe, on the embedded store as
on Redis.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from stream_sentinel.clock import Clock
from stream_sentinel.state.base import Batch, Namespace, StateStore

AUDIT_KEY = "console:audit"
AUDIT_NS = Namespace.PIPELINE
AUDIT_CAP = 10_000


@dataclass(frozen=True, slots=True)
class AuditEntry:
    time: int  # epoch ms
    user: str
    role: str
    action: str  # resolve_case | unblock_user | login | login_failed | logout
    target: str  # the alert id, the user id, ...
    before: dict[str, Any]
    after: dict[str, Any]


class AuditLog:
    """Appends entries and reads the newest ones back."""

    def __init__(self, store: StateStore, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    def record(
        self,
        user: str,
        role: str,
        action: str,
        target: str,
        before: dict[str, Any] | None = None,
        after: dict[str, Any] | None = None,
    ) -> AuditEntry:
        entry = AuditEntry(
            self._clock.now_ms(), user, role, action, target, before or {}, after or {}
        )
        blob = json.dumps(asdict(entry), sort_keys=True).encode()
        self._store.execute(
            Batch().lpush(AUDIT_NS, AUDIT_KEY, blob).ltrim(AUDIT_NS, AUDIT_KEY, 0, AUDIT_CAP - 1)
        )
        return entry

    def recent(self, limit: int = 100) -> list[AuditEntry]:
        [blobs] = self._store.execute(Batch().lrange(AUDIT_NS, AUDIT_KEY, 0, limit - 1))
        return [AuditEntry(**json.loads(blob)) for blob in blobs]
