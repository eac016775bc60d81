"""A state store that fails on cue, so tests can show what the pipeline does when Redis does.

:class:`FaultyStateStore` wraps a store (the embedded one, usually) and keeps a
:class:`WriteFaults` plan for its guarded writes (:meth:`~StateStore.apply_guarded_many`, the
call every state write of the stream core makes). Each planned fault fires once, on the next
guarded write, in the order planned. With nothing planned the wrapper is the store it wraps: it
passes the same contract suite. Tests plan faults through this interface and never replace a
store's methods.

>>> from stream_sentinel.state.base import Batch, Guard, Namespace
>>> from stream_sentinel.state.memory import MemoryStateStore
>>> store = FaultyStateStore(MemoryStateStore())
>>> write = (Guard(Namespace.PIPELINE, "wm", "0", 5), Batch().incrby(Namespace.PROFILES, "n"))
>>> store.faults.fail_next_write(ConnectionError("redis went away"))
>>> store.apply_guarded_many([write])
Traceback (most recent call last):
    ...
ConnectionError: redis went away
>>> store.faults.repeat_next_write()  # applied, its reply lost, sent again
>>> store.apply_guarded_many([write])
[<Outcome.REPLAYED: 'replayed'>]
>>> store.execute(Batch().get(Namespace.PROFILES, "n")), store.faults.pending
([b'1'], 0)
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from stream_sentinel.state.base import Batch, Guard, Namespace, Outcome, StateStore, StoreInfo
from stream_sentinel.state.stats import Slowlog, StoreStats

#: How long a held write waits for its release before it fails (a hang guard, never reached by
#: a test that releases what it holds).
HOLD_LIMIT_S = 60.0

Fault = Callable[[Callable[[], list[Outcome]]], list[Outcome]]


class Hold:
    """A guarded write kept waiting until the test releases it."""

    def __init__(self) -> None:
        self.reached = threading.Event()  # set when the held write has started
        self._released = threading.Event()

    def release(self) -> None:
        self._released.set()

    def __call__(self, write: Callable[[], list[Outcome]]) -> list[Outcome]:
        self.reached.set()
        if not self._released.wait(HOLD_LIMIT_S):
            raise TimeoutError(f"a held state write was not released within {HOLD_LIMIT_S:g} s")
        return write()


class WriteFaults:
    """What the store's next guarded writes get wrong (safe to plan from another thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._planned: deque[Fault] = deque()

    def fail_next_write(self, error: BaseException) -> None:
        """The next write raises ``error`` and changes nothing (``SystemExit``: the process
        died before it wrote)."""

        def fail(write: Callable[[], list[Outcome]]) -> list[Outcome]:
            raise error

        self._plan(fail)

    def repeat_next_write(self) -> None:
        """The next write is applied, its reply lost and the same write sent again: the caller
        sees the second reply (whose guards have already moved)."""

        def repeat(write: Callable[[], list[Outcome]]) -> list[Outcome]:
            write()
            return write()

        self._plan(repeat)

    def hold_next_write(self) -> Hold:
        """The next write waits until the returned hold is released, then happens."""
        hold = Hold()
        self._plan(hold)
        return hold

    def before_next_write(self, action: Callable[[], None]) -> None:
        """Run ``action`` (another writer, say) just before the next write."""

        def first(write: Callable[[], list[Outcome]]) -> list[Outcome]:
            action()
            return write()

        self._plan(first)

    def pass_next_write(self) -> None:
        """Let the next write through untouched (to aim the faults planned after it)."""
        self._plan(lambda write: write())

    @property
    def pending(self) -> int:
        """Planned faults that have not fired yet."""
        with self._lock:
            return len(self._planned)

    def _plan(self, fault: Fault) -> None:
        with self._lock:
            self._planned.append(fault)

    def next(self) -> Fault | None:
        with self._lock:
            return self._planned.popleft() if self._planned else None


class FaultyStateStore:
    """``store`` with :attr:`faults` applied to its guarded writes."""

    def __init__(self, store: StateStore) -> None:
        self.store = store
        self.faults = WriteFaults()
        self.name = store.name

    def apply_guarded_many(self, items: Sequence[tuple[Guard, Batch]]) -> list[Outcome]:
        fault = self.faults.next()
        write = lambda: self.store.apply_guarded_many(items)  # noqa: E731
        return write() if fault is None else fault(write)

    def apply_guarded(self, guard: Guard, batch: Batch) -> Outcome:
        [outcome] = self.apply_guarded_many([(guard, batch)])
        return outcome

    def execute(self, batch: Batch) -> list[Any]:
        return self.store.execute(batch)

    def ping(self) -> bool:
        return self.store.ping()

    def info(self) -> StoreInfo:
        return self.store.info()

    def stats(self) -> StoreStats:
        return self.store.stats()

    def slowlog(self, limit: int) -> Slowlog:
        return self.store.slowlog(limit)

    def scan(self, ns: Namespace, pattern: str = "*", count: int = 1000) -> Iterator[str]:
        return self.store.scan(ns, pattern, count)

    def key_count(self, ns: Namespace) -> int:
        return self.store.key_count(ns)

    def clear(self) -> int:
        return self.store.clear()

    def close(self) -> None:
        self.store.close()
