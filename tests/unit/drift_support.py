"""Feature-log rows on the embedded backends and a drift service to read them (unit tier)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from stream_sentinel.clients.backends import Backends, EmbeddedClients
from stream_sentinel.clock import ManualClock
from stream_sentinel.config.learning import DriftSettings
from stream_sentinel.learning.drift.handler import DriftHandler, DriftOutcome
from stream_sentinel.learning.drift.service import drift_loop
from stream_sentinel.logic.drift.synthetic import synthetic_rows
from stream_sentinel.logic.drift.window import HOUR_MS
from stream_sentinel.logic.feature_set import LIVE, LIVE_HASH
from stream_sentinel.registry_server.local_client import LocalRegistryClient
from stream_sentinel.state.base import Batch, Guard, Outcome, StateStore
from stream_sentinel.state.memory_faults import FaultyStateStore
from stream_sentinel.stream.loop import StreamLoop
from stream_sentinel.transport.base import TopicPartition
from stream_sentinel.transport.topics import Topics
from stream_sentinel.wire.serde import Serde

START = 1_699_999_200_000  # on the hour
BANDS = {"HIGH": 0.5, "CRITICAL": 0.8}
VERSION = "m-0123456789ab"
PARTITIONS = 12  # of decision-features
#: Four reference hours right away, windows closed as soon as the next hour starts.
SETTINGS = DriftSettings(warmup_hours=0, reference_hours=4, lateness_s=0)


class PartingStore(FaultyStateStore):
    """A faulty store that can also lose one partition's part of a guarded write: the next
    part that writes the key ``drop_next`` is dropped (reported as lost, so the loop rebuilds
    that partition from the topic) while the other partitions' parts land."""

    def __init__(self, store: StateStore) -> None:
        super().__init__(store)
        self.drop_next: str | None = None
        self.dropped: list[int] = []
        self.reads = 0  # batches of reads (execute) so far

    def execute(self, batch: Batch) -> list[Any]:
        self.reads += 1
        return super().execute(batch)

    def apply_guarded_many(self, items: Sequence[tuple[Guard, Batch]]) -> list[Outcome]:
        key = self.drop_next
        found = [i for i, (_, b) in enumerate(items) if _writes(b, key)] if key else []
        if not found:
            return super().apply_guarded_many(items)
        [i] = found
        self.drop_next = None
        self.dropped.append(int(items[i][0].field))
        landed = super().apply_guarded_many([*items[:i], *items[i + 1 :]])
        return [*landed[:i], Outcome.DIVERGED, *landed[i:]]


def _writes(batch: Batch, key: str) -> bool:
    return any(c.key == key for c in batch.commands)


class DriftBench:
    """Embedded broker and store; rows produced to decision-features; the drift loop."""

    def __init__(self, settings: DriftSettings = SETTINGS) -> None:
        self.clients = EmbeddedClients(ManualClock(START))
        self.backends: Backends = self.clients.backends()
        self.store = PartingStore(self.backends.state)
        self.backends.state = self.store
        self.topics = Topics()
        self.backends.broker.admin().create_topics(self.topics.specs())
        self.serde = Serde(LocalRegistryClient.in_memory())
        self.settings = settings
        self.clock = ManualClock(START)
        self._producer = self.backends.broker.producer()
        self._encode = self.serde.encoder("decision-features")
        self.produced = 0
        self.outcomes: list[DriftOutcome] = []

    def rows(
        self,
        hour: int,
        n: int,
        seed: int,
        amount_scale: float = 1.0,
        partitions: Sequence[int] | None = None,
        version: str = VERSION,
    ) -> None:
        """``n`` rows spread over event-time hour ``hour`` (counted from START), keyed by user
        (or round-robin over ``partitions``)."""
        rng = np.random.default_rng(seed)
        features, scores = synthetic_rows(rng, n, amount_scale)
        ts = START + hour * HOUR_MS + np.sort(rng.integers(0, HOUR_MS, n))
        for i in range(n):
            record = row_record(
                f"tx-{hour}-{seed}-{i}", int(ts[i]), features[i], scores[i], version
            )
            to = None if partitions is None else partitions[i % len(partitions)]
            self._producer.produce(
                self.topics.decision_features,
                self._encode(record),
                f"u{i % 97}".encode(),
                partition=to,
            )
        self._producer.flush(10.0)
        self.produced += n

    def tick(self, hour: int, seed: int = 999, partitions: Sequence[int] | None = None) -> None:
        """One row at the start of ``hour`` on every partition (or ``partitions``): the clock
        moves past the hours before it everywhere, so they close."""
        features, scores = synthetic_rows(np.random.default_rng(seed), PARTITIONS)
        ts = START + hour * HOUR_MS
        for partition in range(PARTITIONS) if partitions is None else partitions:
            record = row_record(
                f"tick-{hour}-{partition}", ts, features[partition], scores[partition]
            )
            self._producer.produce(
                self.topics.decision_features, self._encode(record), b"tick", partition=partition
            )
        self._producer.flush(10.0)
        self.produced += PARTITIONS if partitions is None else len(partitions)

    def handler(self) -> DriftHandler:
        return DriftHandler(
            self.serde,
            self.backends.state,
            self.settings,
            lambda version: BANDS,
            self.topics,
            self.clock,
            self.outcomes.append,
        )

    def loop(self) -> StreamLoop:
        loop = drift_loop(
            self.backends.broker,
            self.backends.state,
            self.handler(),
            self.settings,
            self.topics,
            max_batch=500,
            poll_timeout_s=0.01,
        )
        loop.start()
        return loop

    def drain(self, loop: StreamLoop, records: int) -> None:
        """Poll until the loop has handled ``records`` more records."""
        target = loop.stats.records + records
        for _ in range(1_000):
            if loop.stats.records >= target:
                return
            loop.poll()
        raise AssertionError(f"handled {loop.stats.records} of {target} records")

    def drain_all(self, loop: StreamLoop) -> None:
        """Poll until the group has read everything produced (its committed offsets are at
        the topic's end)."""
        for _ in range(1_000):
            if self.backlog(loop) == 0:
                return
            loop.poll()
        raise AssertionError(f"{self.backlog(loop)} records left unread")

    def backlog(self, loop: StreamLoop) -> int:
        """Records of decision-features the group has not committed yet."""
        tps = [TopicPartition(self.topics.decision_features, p) for p in range(PARTITIONS)]
        consumer = loop.consumer
        assert consumer is not None
        ends = self.backends.broker.admin().end_offsets(tps)
        committed = consumer.committed(tps)
        return sum(ends[tp] - (committed[tp] or 0) for tp in tps)

    def events(self) -> list[dict[str, Any]]:
        topic = self.topics.drift_events
        consumer = self.backends.broker.consumer(None)
        consumer.assign({TopicPartition(topic, p): 0 for p in range(3)})
        values = []
        while batch := consumer.consume(10_000, 0.05):
            values += [r.value() for r in batch]
        consumer.close()
        decoder = self.serde.decoder("drift-events")
        return sorted((decoder.decode(v) for v in values), key=_order)


def _order(event: Mapping[str, Any]) -> tuple[int, str, str]:
    return (event["window_start"], event["monitor"], event["feature"] or "")


def row_record(
    transaction_id: str, ts: int, vector: np.ndarray, score: float, version: str = VERSION
) -> dict[str, Any]:
    return {
        "transaction_id": transaction_id,
        "user_id": "u1",
        "event_time": ts,
        "decided_time": ts,
        "model_version": version,
        "feature_set": LIVE,
        "feature_set_hash": LIVE_HASH,
        "features": [float(v) for v in vector],
        "score": float(score),
        "risk_level": "LOW",
        "decision": "APPROVE",
        "input_partition": 0,
        "input_offset": 0,
    }
