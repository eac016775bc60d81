"""Benchmark participants in processes of their own (multiprocessing 'spawn', as `detect
--workers` runs detectors), so that the reader timing them never shares a GIL with them.

A target is a module-level function ``target(slot, messages, stop, *args)``. It reports on
``messages`` as ``(kind, slot, payload)`` tuples and ends when ``stop`` is set or its own bound
is reached; ``finish`` asks every child to stop, collects what each returned and ends any
child that does not exit within its grace period, by its own pid.
"""

from __future__ import annotations

import multiprocessing
import queue
import signal
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.process import BaseProcess
from typing import Any

from stream_sentinel.errors import SentinelError

DONE, ERROR = "done", "error"
Message = tuple[str, int, Any]
Target = Callable[..., Any]


class ChildFailed(SentinelError):
    """A benchmark participant raised; the message carries its traceback."""


def _entry(target: Target, slot: int, messages: Any, stop: Any, args: tuple[Any, ...]) -> None:
    """Runs in the child: the parent decides when to stop (Ctrl-C reaches it, not us)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        result = target(slot, messages, stop, *args)
    except BaseException:
        messages.put((ERROR, slot, traceback.format_exc(limit=12)))
        return
    messages.put((DONE, slot, result))


@dataclass
class Children:
    """Processes started for one measurement; every pid is ours to stop."""

    name: str
    _context: Any = field(default_factory=lambda: multiprocessing.get_context("spawn"))
    processes: list[BaseProcess] = field(default_factory=list)
    results: dict[int, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.messages = self._context.Queue()
        self.stops: list[Any] = []  # one event per child, so they can be stopped in turn

    def start(self, target: Target, *args: Any) -> int:
        """Start one more child running ``target``; returns its pid."""
        slot = len(self.processes)
        stop = self._context.Event()
        process = self._context.Process(
            target=_entry,
            args=(target, slot, self.messages, stop, args),
            name=f"bench-{self.name}-{slot}",
            daemon=True,
        )
        process.start()
        self.stops.append(stop)
        self.processes.append(process)
        assert process.pid is not None
        return process.pid

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.processes if p.pid is not None]

    def poll(self, timeout_s: float) -> list[Message]:
        """Messages that arrived (waiting up to ``timeout_s`` for the first)."""
        out: list[Message] = []
        try:
            out.append(self.messages.get(timeout=timeout_s))
            while True:
                out.append(self.messages.get_nowait())
        except queue.Empty:
            pass
        for kind, slot, payload in out:
            if kind == ERROR:
                raise ChildFailed(f"{self.name} process {slot} failed:\n{payload}")
            if kind == DONE:
                self.results[slot] = payload
        return out

    def alive(self) -> bool:
        return any(p.is_alive() for p in self.processes)

    def finish(self, grace_s: float = 30.0) -> dict[int, Any]:
        """Stop the children one after another (each waits for the one before to leave: a
        group member closing while another leaves would be handed partitions mid-close),
        collect their results, and end stragglers by pid."""
        try:
            for slot, stop in enumerate(self.stops):
                stop.set()
                deadline = time.monotonic() + grace_s
                while slot not in self.results and time.monotonic() < deadline:
                    self.poll(0.2)
                    if not self.processes[slot].is_alive() and self.messages.empty():
                        break
        finally:
            self.close()
        return self.results

    def close(self) -> None:
        """End whatever still runs (SIGTERM, then SIGKILL, to each child's own pid)."""
        for stop in self.stops:
            stop.set()
        for process in self.processes:
            self._drain()
            process.join(timeout=5.0)
            if process.is_alive():
                process.terminate()
                process.join(timeout=5.0)
            if process.is_alive():
                process.kill()
                process.join(timeout=5.0)

    def _drain(self) -> None:
        """Take what is queued (a child cannot exit while its queue feeder still holds data)."""
        try:
            while True:
                kind, slot, payload = self.messages.get(timeout=0.05)
                if kind == DONE:
                    self.results[slot] = payload
        except queue.Empty:
            return

    def __enter__(self) -> Children:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
