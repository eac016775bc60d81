"""Consumer lag of the detector's group while a latency point runs: input records produced but
not yet committed by the group, sampled twice a second through the admin API."""

from __future__ import annotations

import threading

from stream_sentinel.clients.backends import RealClients
from stream_sentinel.config import Settings
from stream_sentinel.transport.base import TopicPartition

INTERVAL_S = 0.5
PARTITIONS = 12


class LagSampler:
    def __init__(self, settings: Settings, topic: str) -> None:
        self.group = settings.detector.group_id
        self.partitions = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        self.admin = RealClients(settings).admin()
        self.samples: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-lag", daemon=True)

    def start(self) -> LagSampler:
        self._thread.start()
        return self

    def stop(self) -> dict[str, int | float | None]:
        self._stop.set()
        self._thread.join(timeout=10.0)
        self.admin.close()
        if not self.samples:
            return {"max_lag": None, "mean_lag": None}
        return {
            "max_lag": max(self.samples),
            "mean_lag": round(sum(self.samples) / len(self.samples), 1),
        }

    def _run(self) -> None:
        while not self._stop.wait(INTERVAL_S):
            try:
                self.samples.append(self.lag())
            except Exception:  # a missed sample is not worth failing the measurement
                continue

    def lag(self) -> int:
        ends = self.admin.end_offsets(self.partitions)
        committed = self.admin.group_offsets(self.group)
        return sum(max(end - committed.get(tp, 0), 0) for tp, end in ends.items())
