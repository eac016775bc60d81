"""Synthetic card-payment traffic with labelled fraud, drift scenarios and delayed labels.

The core is a pure, seeded simulator that returns *columnar* batches (one numpy array per field)
in event-time order; the same config and seed give the same batches, byte for byte, however the
caller slices them. The demo, backtests and benchmarks use it in-process::

    from stream_sentinel.generator import SimulationConfig, Simulator

    sim = Simulator(SimulationConfig(users=10_000, fraud_rate=0.01), seed=7)
    batch = sim.next_batch(5_000)          # TransactionBatch, ordered by batch.timestamp
    batch.amount, batch.user, batch.merchant, batch.latitude, batch.channel   # numpy arrays
    batch.pattern, batch.is_fraud          # GROUND TRUTH: for evaluation, never for features
    transactions = sim.transactions(batch) # list[domain.Transaction] (ids as strings)
    labels = sim.labels_due(sim.now_ms)    # FeedbackBatch: labels whose time has come
    feedback = sim.feedback(labels)        # list[domain.Feedback]
    sim.stats.realised_fraud_rate, sim.stats.pattern_counts(), sim.drift.switch_ms

``SimulationConfig`` fields: ``users``, ``fraud_rate``, ``scenario`` (see :data:`SCENARIOS`),
``start_ms`` / ``end_ms`` (simulated epoch ms; nothing after ``end_ms`` is produced),
``switch_at_ms`` (drift switch), ``tx_per_user_day`` (activity, fraud included), ``labels``
(:class:`LabelPolicy`: delay, LEGIT share, noise, missing), ``pattern_mix`` (override the mix).

Labels are released only for transactions already returned by ``next_batch`` and never before
``event_time + delay``. To stream, hand batches to a sink: :class:`~.file_sink.FileSink` (CSV or
JSONL, optional .gz, with ground-truth columns) or :class:`~.kafka_sink.BrokerSink` (Avro to
``transactions`` keyed by user_id and ``fraud-feedback``, on Kafka or the embedded broker);
:class:`~.run.GenerationRun` adds rate control and limits. ``stream-sentinel generate`` is the
command-line front end.

Column codes: ``channel``/``card_type`` index ``domain.Channel``/``domain.CardType`` in
declaration order, ``category`` indexes :data:`catalog.CATEGORY_NAMES`, ``country`` /
``merchant_country`` / ``currency`` index :data:`geography.COUNTRIES` / ``CURRENCIES``,
``pattern`` indexes :data:`catalog.PATTERN_NAMES` (0 = legitimate). User ``n`` is ``u{n:07d}``,
merchant ``m{n:06d}``, device ``d{n:08d}``; transaction ``seq`` is ``{sim.id_prefix}{seq:010d}``.
"""

from __future__ import annotations

from stream_sentinel.generator.batch import FeedbackBatch, TransactionBatch
from stream_sentinel.generator.catalog import PATTERNS
from stream_sentinel.generator.labels import LabelPolicy
from stream_sentinel.generator.scenarios import SCENARIOS
from stream_sentinel.generator.simulator import (
    DriftPoint,
    SimulationConfig,
    SimulationStats,
    Simulator,
)

__all__ = [
    "PATTERNS",
    "SCENARIOS",
    "DriftPoint",
    "FeedbackBatch",
    "LabelPolicy",
    "SimulationConfig",
    "SimulationStats",
    "Simulator",
    "TransactionBatch",
]
