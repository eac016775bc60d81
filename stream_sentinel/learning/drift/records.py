"""Reading what the drift service stored in DB4: checks, alarms, references, progress."""

from __future__ import annotations

import json
from collections.abc import Sequence

from stream_sentinel.learning.drift import keys
from stream_sentinel.learning.drift.alarms import read_alarms
from stream_sentinel.learning.drift.checks import WindowCheck
from stream_sentinel.learning.drift.events import DriftEvent
from stream_sentinel.learning.drift.kept import PerfProgress, StoredMonitors, read_monitors
from stream_sentinel.learning.drift.progress import VersionProgress
from stream_sentinel.logic.drift.reference import Reference
from stream_sentinel.logic.drift.window import WindowCounts
from stream_sentinel.state.base import Batch, StateStore

EVER = float("inf")


class DriftRecords:
    def __init__(self, store: StateStore) -> None:
        self.store = store

    def checks(self, since_ms: int = 0) -> list[WindowCheck]:
        """Every checked window from ``since_ms`` on, oldest first."""
        [found] = self.store.execute(Batch().zrangebyscore(keys.NS, keys.CHECKS, since_ms, EVER))
        return sorted(
            (WindowCheck.decode(member) for member, _ in found),
            key=lambda c: (c.window_start, c.model_version),
        )

    def alarms(self, since_ms: int = 0) -> list[DriftEvent]:
        """Every alarm of a window from ``since_ms`` on, once per id, in window order."""
        return read_alarms(self.store, since_ms)

    def progress(self) -> dict[str, VersionProgress]:
        [found] = self.store.execute(Batch().hgetall(keys.NS, keys.VERSIONS))
        return {v: VersionProgress.decode(b) for v, b in sorted((found or {}).items())}

    def reference(self, version: str) -> Reference | None:
        [blob] = self.store.execute(Batch().get(keys.NS, keys.reference(version)))
        return None if blob is None else Reference.from_json(json.loads(blob))

    def windows(self, hours: Sequence[tuple[str, int]]) -> list[WindowCounts | None]:
        """Each (version, hour start)'s counts, its partitions' fields merged (one read);
        None where they have expired (kept 30 days)."""
        read = Batch()
        for version, start in hours:
            read.hgetall(keys.NS, keys.window(version, start))
        found = self.store.execute(read) if hours else []
        merged: list[WindowCounts | None] = []
        for fields in found:
            total: WindowCounts | None = None
            for blob in (fields or {}).values():
                part = WindowCounts.from_json(json.loads(blob))
                total = part if total is None else total.merged(part)
            merged.append(total)
        return merged

    def marks(self) -> dict[int, int]:
        """Input partition -> the latest event time counted from it (the clock's marks)."""
        [found] = self.store.execute(Batch().hgetall(keys.NS, keys.CLOCK))
        return {int(p): int(ms) for p, ms in sorted((found or {}).items(), key=lambda i: int(i[0]))}

    def performance(self) -> tuple[PerfProgress, dict[str, StoredMonitors]]:
        """The performance monitors' progress (the next bucket to settle) and, per version,
        their stored state and summary."""
        [blob] = self.store.execute(Batch().get(keys.NS, keys.PERF_PROGRESS))
        return PerfProgress.decode(blob), read_monitors(self.store)
