"""A process that stops making progress ends, loudly, so its supervisor restarts it.

A decoder stuck in C code (fastavro looping over a hostile block count) holds the GIL: no Python
thread runs and SIGTERM's handler never does either. :mod:`faulthandler` does not need the GIL:
armed ahead of time, it prints every thread's traceback and ends the process with status 1 when
its deadline passes. Each consumer loop *kicks* the watchdog once per poll; the deadline follows
the stalest loop's last kick plus ``limit_s`` (re-armed lazily, at most every quarter limit, since
arming costs ~0.1 ms). While Python still runs, a monitor thread first logs which loop is stuck
and where, so the log says why the process is about to end.
"""

from __future__ import annotations

import faulthandler
import logging
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)

#: Time between the log line and the end of the process (and the slack of the lazy re-arm).
GRACE_S = 15.0


@dataclass(slots=True)
class _Patient:
    kicked: float
    thread_id: int
    reported: bool = False


class Watchdog:
    """Ends the process when some loop has not kicked it for ``limit_s`` (to ``1.25 x limit_s``
    plus the grace period: the deadline is re-armed lazily)."""

    def __init__(
        self,
        limit_s: float,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        arm: Callable[[float], None] | None = None,
        cancel: Callable[[], None] = faulthandler.cancel_dump_traceback_later,
    ) -> None:
        self.limit_s = limit_s
        self._monotonic = monotonic
        self._arm = arm or _arm_faulthandler
        self._cancel = cancel
        self._patients: dict[str, _Patient] = {}
        self._armed_from: float | None = None
        self._lock = threading.Lock()
        self._monitor: threading.Thread | None = None

    def kick(self, patient: str) -> None:
        """``patient`` (a loop) made progress now."""
        with self._lock:
            now = self._monotonic()
            self._patients[patient] = _Patient(now, threading.get_ident())
            self._rearm(now)

    def leave(self, patient: str) -> None:
        """``patient`` stopped on purpose: it is no longer watched."""
        with self._lock:
            self._patients.pop(patient, None)
            if not self._patients:
                self._cancel()
                self._armed_from = None
            else:
                self._rearm(self._monotonic())

    def deadline(self) -> float | None:
        """When the process ends unless the stalest loop kicks again (monotonic seconds)."""
        if self._armed_from is None:
            return None
        return self._armed_from + 1.25 * self.limit_s + GRACE_S

    def stalled(self) -> list[tuple[str, float, int]]:
        """(patient, seconds since its kick, its thread) for each loop past the limit, once."""
        now, out = self._monotonic(), []
        with self._lock:
            for name, patient in self._patients.items():
                if now - patient.kicked > self.limit_s and not patient.reported:
                    patient.reported = True
                    out.append((name, now - patient.kicked, patient.thread_id))
        return out

    def _rearm(self, now: float) -> None:
        stalest = min(p.kicked for p in self._patients.values())
        if self._armed_from is not None and stalest - self._armed_from <= self.limit_s / 4:
            return  # the armed deadline still gives every loop limit_s from its last kick
        self._armed_from = stalest
        deadline = self.deadline()
        assert deadline is not None
        self._arm(max(deadline - now, 1.0))
        self._start_monitor()

    def _start_monitor(self) -> None:
        if self._monitor is None:
            self._monitor = threading.Thread(target=self._watch, name="watchdog", daemon=True)
            self._monitor.start()

    def _watch(self) -> None:
        while True:
            time.sleep(max(self.limit_s / 8, 0.05))
            for name, seconds, thread_id in self.stalled():
                log.error(
                    "%s has made no progress for %.0f s, stuck in %s; the process ends within "
                    "%.0f s so that its supervisor restarts it (see docs/detector.md, 'Input "
                    "limits')",
                    name,
                    seconds,
                    _where(thread_id),
                    GRACE_S + self.limit_s / 4,
                )


def _arm_faulthandler(timeout_s: float) -> None:
    faulthandler.dump_traceback_later(timeout_s, exit=True, file=sys.stderr)


def _where(thread_id: int) -> str:
    frame = sys._current_frames().get(thread_id)
    if frame is None:
        return "a thread that has ended"
    last = traceback.extract_stack(frame)[-1]
    return f"{last.filename}:{last.lineno} ({last.name})"


_shared: list[Watchdog] = []
_shared_lock = threading.Lock()


def shared_watchdog(limit_s: float) -> Watchdog:
    """The process's watchdog: faulthandler has one deadline per process, so there is one
    watchdog, with the limit of whoever asked first."""
    with _shared_lock:
        if not _shared:
            _shared.append(Watchdog(limit_s))
        return _shared[0]
