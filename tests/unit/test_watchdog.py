"""The watchdog: a loop stuck in a batch (even in C, holding the GIL) ends the process, status 1."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading

import pytest

from stream_sentinel.stream.watchdog import GRACE_S, Watchdog

pytestmark = pytest.mark.unit


class Arms:
    """Records what the watchdog asked faulthandler for, on a manual clock."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.armed: list[float] = []
        self.cancelled = 0

    def watchdog(self, limit_s: float) -> Watchdog:
        return Watchdog(
            limit_s, monotonic=lambda: self.now, arm=self.armed.append, cancel=self._cancel
        )

    def _cancel(self) -> None:
        self.cancelled += 1


def test_the_deadline_follows_the_stalest_loop_and_is_rearmed_lazily() -> None:
    arms = Arms()
    dog = arms.watchdog(100.0)
    dog.kick("detector")
    assert arms.armed == [125.0 + GRACE_S]  # 1.25 x limit + grace from now
    arms.now += 20  # within a quarter limit: no new arm (arming costs ~0.1 ms)
    dog.kick("detector")
    assert len(arms.armed) == 1
    arms.now += 10  # 30 s after the armed kick: re-armed from this kick
    dog.kick("detector")
    assert arms.armed[-1] == 125.0 + GRACE_S
    assert dog.deadline() == 1030.0 + 125.0 + GRACE_S


def test_a_second_loop_that_stops_kicking_holds_the_deadline() -> None:
    arms = Arms()
    dog = arms.watchdog(100.0)
    dog.kick("feedback")
    dog.kick("detector")
    for _ in range(10):  # the detector goes on, the feedback loop is stuck
        arms.now += 30
        dog.kick("detector")
    assert dog.deadline() == 1000.0 + 125.0 + GRACE_S
    assert dog.stalled() == [("feedback", 300.0, threading.get_ident())]  # where it kicked last
    assert dog.stalled() == []  # reported once per stall


def test_the_last_loop_leaving_cancels_the_deadline() -> None:
    arms = Arms()
    dog = arms.watchdog(100.0)
    dog.kick("detector")
    dog.kick("feedback")
    dog.leave("detector")
    assert arms.cancelled == 0
    dog.leave("feedback")
    assert (arms.cancelled, dog.deadline()) == (1, None)


def _run(body: str) -> subprocess.CompletedProcess[str]:
    script = textwrap.dedent(
        """
        import logging, sys
        logging.basicConfig(stream=sys.stderr, level=logging.INFO)
        from stream_sentinel.stream import watchdog
        watchdog.GRACE_S = 0.5
        dog = watchdog.Watchdog(0.4)
        dog.kick("detector-0")
        """
    ) + textwrap.dedent(body)
    # the hard limit is the subprocess timeout: a watchdog that never fires fails the test
    return subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )


def test_a_loop_stuck_in_c_code_holding_the_gil_ends_the_process_with_status_1() -> None:
    done = _run("sum(range(10**14))\nprint('finished')\n")
    assert done.returncode == 1
    assert "finished" not in done.stdout
    assert "Timeout (0:00:01)!" in done.stderr  # faulthandler: no GIL needed
    assert 'File "<string>", line 8 in <module>' in done.stderr  # where it was stuck


def test_a_loop_stuck_in_python_is_logged_with_where_before_the_process_ends() -> None:
    done = _run("while True:\n    pass\n")
    assert done.returncode == 1
    assert "detector-0 has made no progress for " in done.stderr
    assert ", stuck in <string>:" in done.stderr
