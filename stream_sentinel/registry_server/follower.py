"""Keeping a replica up with its log: inline (read on demand) or tailing in a background thread.

Both answer :meth:`sync`: return once the replica has applied everything before an offset. The
embedded registry reads inline, in the caller's thread; a registry on Kafka tails ``_schemas``
continuously, so records written by other instances (or by migration tools) are applied as they
arrive, and a caller only waits for what is not there yet.
"""

from __future__ import annotations

import logging
import threading
from typing import Protocol

from stream_sentinel.errors import SentinelError
from stream_sentinel.registry_server import errors
from stream_sentinel.registry_server.replica import Replica
from stream_sentinel.registry_server.store import SchemaLog

log = logging.getLogger(__name__)
POLL_S = 0.2


class Follower(Protocol):
    def sync(self, position: int) -> None:
        """Return once everything before ``position`` is applied; 50002 when that takes too long."""

    def sync_to_end(self, timeout_s: float | None = None) -> None:
        """Catch up with the log's end as it is now (within ``timeout_s``: default, the
        follower's own)."""

    def close(self) -> None: ...


def _read_step(log_: SchemaLog, replica: Replica, timeout_s: float) -> None:
    entries, after = log_.read_from(replica.position, timeout_s)
    for offset, key, value in entries:
        replica.apply(offset, key, value)
    replica.advance(after)


class InlineFollower:
    """Reads what is missing when asked, in the caller's thread."""

    def __init__(self, log_: SchemaLog, replica: Replica, timeout_s: float = 30.0) -> None:
        self._log = log_
        self._replica = replica
        self._timeout_s = timeout_s
        self._lock = threading.Lock()

    def sync(self, position: int) -> None:
        with self._lock:
            while self._replica.position < position:
                before = self._replica.position
                _read_step(self._log, self._replica, self._timeout_s)
                if self._replica.position == before:
                    raise errors.operation_timeout(
                        f"the registry log stopped at offset {before}, before {position}"
                    )

    def sync_to_end(self, timeout_s: float | None = None) -> None:
        self.sync(self._log.end_offset())

    def close(self) -> None:
        return None


class TailingFollower:
    """Applies the log as it grows, in a daemon thread; :meth:`sync` waits for it."""

    def __init__(self, log_: SchemaLog, replica: Replica, timeout_s: float = 30.0) -> None:
        self._log = log_
        self._replica = replica
        self._timeout_s = timeout_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="schemas-follower", daemon=True)

    def start(self) -> TailingFollower:
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                _read_step(self._log, self._replica, POLL_S)
            except Exception as exc:  # the follower thread must outlive any one failure
                unexpected = not isinstance(exc, SentinelError)
                log.warning("following _schemas failed (%s); retrying", exc, exc_info=unexpected)
                self._stop.wait(1.0)

    def sync(self, position: int, timeout_s: float | None = None) -> None:
        if not self._replica.wait_for(position, timeout_s or self._timeout_s):
            raise errors.operation_timeout(
                f"this registry has read _schemas to offset {self._replica.position}, not yet "
                f"to {position}; is Kafka healthy?"
            )

    def sync_to_end(self, timeout_s: float | None = None) -> None:
        self.sync(self._log.end_offset(timeout_s), timeout_s)

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5.0)
