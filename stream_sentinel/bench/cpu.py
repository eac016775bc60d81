"""CPU seconds of the processes in a measurement, sampled so that a window can be cut out later.

A thread reads each watched process's user + system CPU time (all its threads, librdkafka's
included) every ``interval_s``; :meth:`CpuSampler.used` answers how much each group of
processes used between two wall times, from the samples nearest inside the window. A process
that has exited keeps its last sample.
"""

from __future__ import annotations

import bisect
import threading
import time
from dataclasses import dataclass, field

import psutil

INTERVAL_S = 0.05


@dataclass
class _Series:
    times: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    def at(self, moment: float) -> float:
        """CPU seconds used by ``moment`` (the nearest sample; 0 before the first)."""
        if not self.times:
            return 0.0
        i = bisect.bisect_left(self.times, moment)
        if i == 0:
            return self.cpu[0]
        if i == len(self.times):
            return self.cpu[-1]
        before, after = self.times[i - 1], self.times[i]
        return self.cpu[i - 1] if moment - before <= after - moment else self.cpu[i]


class CpuSampler:
    """Samples named groups of pids (``{"detector": [pid, ...], "kafka": [pid]}``)."""

    def __init__(self, interval_s: float = INTERVAL_S) -> None:
        self.interval_s = interval_s
        self._processes: dict[str, list[psutil.Process]] = {}
        self._series: dict[int, _Series] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def watch(self, group: str, pids: list[int]) -> None:
        with self._lock:
            for pid in pids:
                try:
                    process = psutil.Process(pid)
                except psutil.Error:
                    continue
                self._processes.setdefault(group, []).append(process)
                self._series.setdefault(pid, _Series())
        self._sample()

    def start(self) -> CpuSampler:
        self._thread = threading.Thread(target=self._run, name="bench-cpu", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)

    def used(self, start_s: float, end_s: float) -> dict[str, float]:
        """CPU seconds per group between two wall times (``time.time()``)."""
        with self._lock:
            return {
                group: round(
                    sum(
                        self._series[p.pid].at(end_s) - self._series[p.pid].at(start_s) for p in ps
                    ),
                    3,
                )
                for group, ps in self._processes.items()
            }

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self._sample()

    def _sample(self) -> None:
        with self._lock:
            now = time.time()
            for processes in self._processes.values():
                for process in processes:
                    self._sample_one(process, now)

    def _sample_one(self, process: psutil.Process, now: float) -> None:
        try:
            times = process.cpu_times()
        except psutil.Error:
            return  # exited: its last sample stands
        series = self._series[process.pid]
        series.times.append(now)
        series.cpu.append(times.user + times.system)
