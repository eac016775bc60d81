"""Trying a call again after a passing failure: a backoff policy, and the one loop that uses it.

As in redis-py, the policy is a small value object with one pure method: it says how long to
wait, never waits itself. :func:`retrying` makes the calls and waits on an injected
:class:`~stream_sentinel.clock.Clock`, so a test hands it a ``ManualClock`` and retries without
sleeping. It lives here, in the layer of the backends (``transport : state : registry``), so
that Kafka, Redis and the registry service all share it.

>>> from stream_sentinel.clock import ManualClock
>>> backoff = Backoff(first_s=0.1, max_s=0.3, attempts=4)
>>> [backoff.delay(attempt) for attempt in (1, 2, 3, 4)]
[0.1, 0.2, 0.3, None]
>>> failures = iter([OSError("refused"), OSError("refused")])
>>> def ping() -> str:
...     for failure in failures:
...         raise failure
...     return "PONG"
>>> clock = ManualClock()
>>> retrying(ping, backoff, retriable=(OSError,), clock=clock), round(clock.monotonic(), 3)
('PONG', 0.3)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from stream_sentinel.clock import SYSTEM_CLOCK, Clock

T = TypeVar("T")
#: Called before each wait with the failure, the number of the call that failed and the wait.
OnRetry = Callable[[Exception, int, float], None]

_MAX_DOUBLINGS = 64  # far past any cap; keeps 2**n a float


@dataclass(frozen=True, slots=True)
class Backoff:
    """Waits that start at ``first_s`` and double up to ``max_s``.

    Give up after ``attempts`` calls, or when the next wait would end more than ``budget_s``
    after the first call began (either limit may be None: no such limit).
    """

    first_s: float
    max_s: float
    attempts: int | None = None
    budget_s: float | None = None

    def delay(self, attempt: int, elapsed_s: float = 0.0) -> float | None:
        """The wait after call number ``attempt`` (1: the first) failed ``elapsed_s`` after the
        first began; None: give up."""
        if self.attempts is not None and attempt >= self.attempts:
            return None
        wait = min(self.first_s * 2.0 ** min(attempt - 1, _MAX_DOUBLINGS), self.max_s)
        if self.budget_s is not None and elapsed_s + wait > self.budget_s:
            return None
        return wait


def retrying(
    call: Callable[[], T],
    backoff: Backoff,
    *,
    retriable: tuple[type[Exception], ...],
    clock: Clock = SYSTEM_CLOCK,
    on_retry: OnRetry | None = None,
) -> T:
    """``call()``, called again after each wait ``backoff`` allows while it raises one of the
    ``retriable`` errors; once the policy gives up, that last error propagates unchanged."""
    started = clock.monotonic()
    attempt = 1
    while True:
        try:
            return call()
        except retriable as exc:
            wait = backoff.delay(attempt, clock.monotonic() - started)
            if wait is None:
                raise
            if on_retry is not None:
                on_retry(exc, attempt, wait)
            clock.sleep(wait)
            attempt += 1
