"""Feature-log rows on a real stack for the Drift page's browser test: the drift service
tests' traffic (tests/unit/test_drift_service.py) produced to ``decision-features``."""

from __future__ import annotations

import numpy as np

from stream_sentinel.clients.backends import RealClients
from stream_sentinel.config import Settings
from stream_sentinel.logic.drift.synthetic import synthetic_rows
from stream_sentinel.logic.drift.window import HOUR_MS
from stream_sentinel.transport.topics import Topics
from stream_sentinel.wire.serde import Serde
from tests.unit.drift_support import PARTITIONS, START, row_record

#: Four reference hours right away, windows closed as soon as the next hour starts.
DRIFT_ENV = {
    "SENTINEL_DRIFT_WARMUP_HOURS": "0",
    "SENTINEL_DRIFT_REFERENCE_HOURS": "4",
    "SENTINEL_DRIFT_LATENESS_S": "0",
}
REFERENCE_ROWS, WINDOW_ROWS = 1500, 300
DRIFTED = (10, 11)  # hours whose amounts are tripled


def produce_feature_log(settings: Settings, version: str) -> int:
    """Hours 0-3 (the reference) and 4-11 (windows, 10 and 11 drifted) of ``version``'s rows,
    then a row per partition at hour 13 so every hour up to 12 closes; returns the rows."""
    clients = RealClients(settings)
    registry = clients.registry()
    encode = Serde.from_settings(settings, registry).encoder("decision-features")
    topic = Topics.from_settings(settings).decision_features
    producer = clients.broker().producer()
    produced = 0
    try:
        for hour in range(12):
            n = REFERENCE_ROWS if hour < 4 else WINDOW_ROWS
            rng = np.random.default_rng(100 + hour)
            features, scores = synthetic_rows(rng, n, 3.0 if hour in DRIFTED else 1.0)
            ts = START + hour * HOUR_MS + np.sort(rng.integers(0, HOUR_MS, n))
            for i in range(n):
                record = row_record(f"tx-{hour}-{i}", int(ts[i]), features[i], scores[i], version)
                producer.produce(topic, encode(record), f"u{i % 97}".encode())
            produced += n
        features, scores = synthetic_rows(np.random.default_rng(999), PARTITIONS)
        for partition in range(PARTITIONS):
            tick = row_record(
                f"tick-{partition}",
                START + 13 * HOUR_MS,
                features[partition],
                scores[partition],
                version,
            )
            producer.produce(topic, encode(tick), b"tick", partition=partition)
        produced += PARTITIONS
        assert producer.flush(60) == 0
    finally:
        producer.close()
        registry.close()
    return produced
