"""The feature log on the embedded backends: one row per decision, the vector that was scored."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import numpy as np
import pytest

from stream_sentinel.config import load_settings
from stream_sentinel.detector.feature_log import FeatureLog, feature_rows
from stream_sentinel.detector.models import ModelSource
from stream_sentinel.detector.worker import DetectorWorker, Prepared
from stream_sentinel.errors import ConfigError, TransactionAborted
from stream_sentinel.logic.columns import to_columns
from stream_sentinel.logic.feature_set import LIVE, LIVE_HASH
from stream_sentinel.logic.features import FEATURES, MerchantStats, featurize
from stream_sentinel.logic.profile import new_profiles
from stream_sentinel.registry_server.local_client import LocalRegistryClient
from stream_sentinel.transport.base import TopicPartition
from stream_sentinel.wire.serde import Serde
from tests.unit.test_detector_embedded import Pipeline, tx
from tests.unit.test_model_store import tiny_model

#: What a feature-log row repeats from its FraudScore.
SHARED = ("user_id", "event_time", "decided_time", "model_version", "score", "risk_level")


@pytest.fixture
def pipeline() -> Pipeline:
    return Pipeline()


def traffic(count: int, users: int = 5) -> list[dict[str, Any]]:
    records = []
    for n in range(count):
        user = f"u{n % users}"
        amount = 25.0 + 40.0 * (n % 7) + (500.0 if n % 11 == 0 else 0.0)
        records.append(tx(n, user, minutes=n * 0.4, amount=amount, merchant_id=f"m{n % 4}"))
    return records


def capture(worker: DetectorWorker) -> dict[str, np.ndarray]:
    """Every scored transaction's feature row, as the scoring code computed it."""
    scored: dict[str, np.ndarray] = {}

    def observe(prepared: Prepared) -> None:
        for row, transaction_id in enumerate(prepared.transaction_ids):
            assert transaction_id not in scored  # each transaction is scored once here
            scored[transaction_id] = prepared.features[row].copy()

    worker.handler.on_batch = observe
    return scored


def by_id(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    counts = Counter(row["transaction_id"] for row in rows)
    assert max(counts.values()) == 1, [k for k, v in counts.items() if v > 1]
    return {row["transaction_id"]: row for row in rows}


def assert_one_row_per_decision(pipeline: Pipeline) -> dict[str, dict[str, Any]]:
    """The feature log holds exactly the decisions' transactions, each once, agreeing with its
    FraudScore; returns the rows by transaction id."""
    scores = by_id(pipeline.read("fraud-scores"))
    rows = by_id(pipeline.read("decision-features"))
    assert set(rows) == set(scores)
    for transaction_id, row in rows.items():
        score = scores[transaction_id]
        assert {k: row[k] for k in SHARED} == {k: score[k] for k in SHARED}
        assert row["decision"] == score["decision"]
        assert (row["feature_set"], row["feature_set_hash"]) == (LIVE, LIVE_HASH)
        assert len(row["features"]) == len(FEATURES)
    return rows


def input_positions(pipeline: Pipeline) -> dict[tuple[int, int], str]:
    """(partition, offset) -> transaction id of every record on the transactions topic."""
    topic = pipeline.topics.transactions
    partitions = pipeline.backends.broker.admin().describe_topics([topic])[topic].partitions
    consumer = pipeline.backends.broker.consumer(None)
    consumer.assign({TopicPartition(topic, p): 0 for p in range(partitions)})
    decoder = pipeline.serde.decoder("transactions")
    positions = {}
    while batch := consumer.consume(10_000, 0.05):
        for record in batch:
            key = (record.partition() or 0, record.offset() or 0)
            positions[key] = decoder.decode(record.value())["transaction_id"]
    return positions


def test_every_decision_has_one_row_holding_the_vector_its_model_scored(
    pipeline: Pipeline,
) -> None:
    models = ModelSource(None)
    models.swap(tiny_model())
    worker = pipeline.worker(models)
    scored = capture(worker)
    sent = traffic(120)
    for start in range(0, len(sent), 40):  # three batches: later ones read earlier state
        for record in sent[start : start + 40]:
            pipeline.send(record, key=record["user_id"])
        pipeline.drain(worker, start + 40)
    rows = assert_one_row_per_decision(pipeline)
    assert set(rows) == {r["transaction_id"] for r in sent} == set(scored)
    for transaction_id, row in rows.items():
        assert np.array_equal(row["features"], scored[transaction_id], equal_nan=True)
        assert row["model_version"] == tiny_model().version
    # and the model scores the logged vectors to the scores it published
    ids = sorted(rows)
    logged = np.array([rows[t]["features"] for t in ids])
    published = {s["transaction_id"]: s["score"] for s in pipeline.read("fraud-scores")}
    assert tiny_model().predict(logged).tolist() == [published[t] for t in ids]
    positions = input_positions(pipeline)
    assert {(r["input_partition"], r["input_offset"]): t for t, r in rows.items()} == positions


def test_the_vectors_equal_the_features_computed_from_the_transactions_alone(
    pipeline: Pipeline,
) -> None:
    sent = traffic(30)
    for record in sent:
        pipeline.send(record, key=record["user_id"])
    worker = pipeline.worker()
    pipeline.drain(worker, len(sent))
    assert worker.loop.stats.batches == 1  # no earlier state: no merchant counts yet
    columns = to_columns(sent)
    expected = featurize(
        new_profiles(len(columns.users)), columns.tx, MerchantStats.empty(len(columns.merchants))
    )
    rows = assert_one_row_per_decision(pipeline)
    for n, record in enumerate(sent):
        vector = rows[record["transaction_id"]]["features"]
        assert np.array_equal(vector, expected[n], equal_nan=True)
    assert [rows[f"tx-{n}"]["features"][FEATURES.index("history_count")] for n in range(10)] == [
        0.0,
        0.0,
        0.0,
        0.0,
        0.0,
        1.0,
        1.0,
        1.0,
        1.0,
        1.0,
    ]
    assert all(row["model_version"] is None for row in rows.values())  # rules only


def test_an_aborted_transaction_leaves_only_the_retried_rows(pipeline: Pipeline) -> None:
    for record in traffic(12):
        pipeline.send(record, key=record["user_id"])
    worker = pipeline.worker()
    producer = worker.loop.publisher.producer
    real = producer.commit_transaction
    calls = {"n": 0}

    def flaky(timeout_s: float = 30.0) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise TransactionAborted("broker said no")
        real(timeout_s)

    producer.commit_transaction = flaky
    deadline = time.monotonic() + 10
    while worker.loop.stats.records < 12 and time.monotonic() < deadline:
        worker.poll()
    assert worker.loop.stats.aborted == 1
    assert len(assert_one_row_per_decision(pipeline)) == 12


def test_a_repair_after_a_crash_writes_no_rows(pipeline: Pipeline) -> None:
    for n in range(10):
        pipeline.send(tx(n, minutes=n))
    worker = pipeline.worker()
    pipeline.write_faults.fail_next_write(SystemExit("killed after the Kafka commit"))
    with pytest.raises(SystemExit):
        worker.poll()
        worker.loop.settle()
    worker.loop.consumer.close()
    for n in range(10, 15):
        pipeline.send(tx(n, minutes=n))
    restarted = pipeline.worker()
    pipeline.drain(restarted, 5)
    assert restarted.loop.stats.repaired == 10  # handled again, state only
    assert sorted(assert_one_row_per_decision(pipeline)) == sorted(f"tx-{n}" for n in range(15))


def test_the_feature_log_can_be_turned_off() -> None:
    settings = load_settings("test", environ={"SENTINEL_DETECTOR_FEATURE_LOG": "false"})
    pipeline = Pipeline(settings)
    for n in range(5):
        pipeline.send(tx(n, minutes=n))
    pipeline.drain(pipeline.worker(), 5)
    assert len(pipeline.read("fraud-scores")) == 5
    assert pipeline.read("decision-features") == []


def test_a_json_feature_log_is_refused_at_once_with_the_fix() -> None:
    plain = Pipeline()
    plain.serde = Serde(LocalRegistryClient.in_memory(), json_topics=["decision-features"])
    with pytest.raises(ConfigError) as refused:
        plain.worker()
    assert str(refused.value) == (
        "decision-features cannot be a JSON topic: its vectors hold NaN for missing values, "
        "which JSON cannot carry; remove it from SENTINEL_KAFKA_JSON_TOPICS"
    )


def test_a_missing_topic_stops_the_detector_at_start_saying_how_to_fix_it() -> None:
    pipeline = Pipeline()
    pipeline.backends.broker.admin().delete_topics(["decision-features"])
    with pytest.raises(ConfigError) as refused:
        pipeline.worker()
    assert str(refused.value) == (
        "topic decision-features does not exist, so the detector cannot log its decisions' "
        "features: run `stream-sentinel topics create` (it adds the missing topics and changes "
        "none), or set SENTINEL_DETECTOR_FEATURE_LOG=false to decide without the feature log"
    )
    off = Pipeline(load_settings("test", environ={"SENTINEL_DETECTOR_FEATURE_LOG": "false"}))
    off.backends.broker.admin().delete_topics(["decision-features"])
    off.send(tx(1))
    off.drain(off.worker(), 1)
    assert len(off.read("fraud-scores")) == 1


def test_the_fast_rows_are_the_generic_encoders_bytes(pipeline: Pipeline) -> None:
    models = ModelSource(None)
    models.swap(tiny_model())
    worker = pipeline.worker(models)
    batches: list[Prepared] = []
    worker.handler.on_batch = batches.append
    for record in traffic(60):
        pipeline.send(record, key=record["user_id"])
    pipeline.drain(worker, 60)
    log = FeatureLog(pipeline.serde, pipeline.topics)
    encode = pipeline.serde.encoder("decision-features")
    for prepared in batches:
        assert prepared.scored is not None
        args = (prepared.records, prepared.intake, prepared.features, prepared.scored, 7)
        fast = [value for _, _, value in log.rows(*args)]
        assert fast == [encode(row) for row in feature_rows(*args)]
        assert len(fast) == len(prepared.good)


def test_a_transaction_decided_again_after_a_rewind_keeps_its_first_row_only(
    pipeline: Pipeline,
) -> None:
    for n in range(6):
        pipeline.send(tx(n, minutes=n))
    worker = pipeline.worker()
    pipeline.drain(worker, 6)
    worker.close()
    first = by_id(pipeline.read("decision-features"))
    group = pipeline.settings.detector.group_id
    tp = TopicPartition(
        "transactions", next(iter(pipeline.backends.broker.admin().group_offsets(group))).partition
    )
    pipeline.backends.broker.cluster.group(group).committed[tp] = 0  # an operator rewinds
    again = pipeline.worker()
    pipeline.drain(again, 6)
    assert len(pipeline.read("fraud-scores")) == 12  # decided again ...
    rows = by_id(pipeline.read("decision-features"))  # ... but logged once, from the first state
    assert set(rows) == set(first) and len(rows) == 6
    for transaction_id, row in rows.items():  # NaN != NaN: the vectors compared apart
        then = first[transaction_id]
        assert np.array_equal(row.pop("features"), then.pop("features"), equal_nan=True)
        assert row == then
