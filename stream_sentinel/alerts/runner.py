"""Running an alert processor until told to stop, idle, or done with N records; heartbeats."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from stream_sentinel.alerts.processor import AlertWorker
from stream_sentinel.stream.running import (
    HEARTBEAT_S,
    UNASSIGNED_GRACE_S,
    BrokerOutage,
    consumer_caught_up,
    publish_heartbeat,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RunLimits:
    until_idle_s: float | None = None  # exit once caught up for this long
    max_records: int | None = None  # exit after this many input records


class AlertRun:
    """One processor's run: poll, sweep, heartbeat, and the exit conditions."""

    def __init__(
        self,
        worker: AlertWorker,
        limits: RunLimits,
        name: str = "alerts-0",
        outage: BrokerOutage | None = None,
    ) -> None:
        self.worker = worker
        self.outage = outage  # for a real broker: how long it has been unreachable
        self.limits = limits
        self.name = name
        self.clock = worker.clock
        self.on_heartbeat: Callable[[dict[str, Any]], None] | None = None
        self._started = self.clock.monotonic()
        self._last_heartbeat = float("-inf")

    def run(self, should_stop: Callable[[], bool]) -> dict[str, Any]:
        """Process until ``should_stop()``, the idle limit or the record limit; the summary."""
        self.worker.start()
        idle_since: float | None = None
        try:
            while not should_stop() and not self._done():
                if self._step():
                    idle_since = None
                elif self.limits.until_idle_s is not None and self.caught_up():
                    idle_since = self.clock.monotonic() if idle_since is None else idle_since
                    if self.clock.monotonic() - idle_since >= self.limits.until_idle_s:
                        break
                else:
                    idle_since = None
        except BaseException as exc:
            self._stop_after(exc)
            raise
        self.heartbeat()
        self.worker.close()
        return self.summary()

    def _stop_after(self, error: BaseException) -> None:
        """Close after ``error`` ended the run; what fails now is logged, not raised, so the
        error the user sees is the one that ended the run."""
        for stop_step in (self.heartbeat, self.worker.close):
            try:
                stop_step()
            except Exception as exc:
                log.warning("while stopping after %s: %s", type(error).__name__, exc)

    def _step(self) -> int:
        loop = self.worker.loop
        remaining = None
        if self.limits.max_records is not None:
            remaining = self.limits.max_records - loop.stats.records
        count = self.worker.poll(remaining)
        if self.outage is not None:
            self.outage.busy() if count else self.outage.idle()
        if self.clock.monotonic() - self._last_heartbeat >= HEARTBEAT_S:
            self.heartbeat()
        return count

    def _done(self) -> bool:
        limit = self.limits.max_records
        return limit is not None and self.worker.loop.stats.records >= limit

    def caught_up(self) -> bool:
        """True when every assigned partition of fraud-alerts has been read to its end."""
        consumer = self.worker.loop.consumer
        if consumer is None or not consumer.assignment():
            return self.clock.monotonic() - self._started >= UNASSIGNED_GRACE_S
        return consumer_caught_up(consumer)

    def heartbeat(self) -> None:
        """This processor's figures for `stream-sentinel status` (a key with a TTL)."""
        self._last_heartbeat = self.clock.monotonic()
        summary = self.summary()
        publish_heartbeat(
            self.worker.store, self.worker.settings.alerts.group_id, self.name, summary
        )
        if self.on_heartbeat is not None:
            self.on_heartbeat(summary)

    def summary(self) -> dict[str, Any]:
        summary: dict[str, Any] = dict(self.worker.summary())
        summary["worker"] = self.name
        summary["elapsed_s"] = round(self.clock.monotonic() - self._started, 3)
        return summary
