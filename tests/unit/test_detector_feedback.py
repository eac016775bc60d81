"""Labels reach merchant state exactly once, through the detector's feedback loop."""

from __future__ import annotations

from typing import Any

from stream_sentinel.detector.runner import DetectorProcess, RunOptions
from stream_sentinel.logic.features import COLUMN
from stream_sentinel.logic.merchants import parse_counters
from stream_sentinel.logic.profile import DAY_MS
from stream_sentinel.state import keys
from stream_sentinel.state.base import Batch
from tests.unit.test_detector_embedded import NOW, Pipeline, tx

DAY = NOW // DAY_MS


def label(transaction: str, verdict: str, merchant: str = "m7", user: str = "u1") -> dict[str, Any]:
    return {
        "transaction_id": transaction,
        "user_id": user,
        "merchant_id": merchant,
        "event_time": NOW - 1000,
        "label": verdict,
        "source": "CHARGEBACK",
        "confidence": 1.0,
        "pattern": "card_testing" if verdict == "FRAUD" else None,
        "label_time": NOW,
    }


def run_feedback(pipeline: Pipeline, labels: list[dict[str, Any]]) -> DetectorProcess:
    producer = pipeline.backends.broker.producer()
    encode = pipeline.serde.encoder("fraud-feedback")
    for item in labels:
        producer.produce(pipeline.topics.fraud_feedback, encode(item), item["user_id"].encode())
    producer.produce(pipeline.topics.fraud_feedback, b"garbage", b"u1")
    process = DetectorProcess(pipeline.settings, pipeline.backends, pipeline.serde)
    process.run(lambda: False, RunOptions(until_idle_s=0.2, max_records=None))
    return process


def merchant_counters(pipeline: Pipeline, merchant: str) -> dict[str, dict[int, float]]:
    [fields] = pipeline.backends.state.execute(
        Batch().hgetall(keys.PIPELINE, keys.merchant(merchant))
    )
    return parse_counters(fields)


def test_labels_update_merchant_counters_once_per_transaction() -> None:
    pipeline = Pipeline()
    process = run_feedback(
        pipeline,
        [
            label("t1", "FRAUD"),
            label("t2", "LEGIT"),
            label("t1", "FRAUD"),  # the same chargeback twice
            label("t2", "FRAUD"),  # an analyst overturns a LEGIT label
            label("t3", "FRAUD", merchant="m8"),
        ],
    )
    assert merchant_counters(pipeline, "m7") == {"n": {}, "f": {DAY: 2.0}, "l": {DAY: 2.0}}
    assert merchant_counters(pipeline, "m8") == {"n": {}, "f": {DAY: 1.0}, "l": {DAY: 1.0}}
    [stored] = pipeline.backends.state.execute(Batch().hgetall(keys.FEEDBACK, keys.feedback("t2")))
    assert (stored["label"], stored["source"]) == (b"FRAUD", b"CHARGEBACK")
    assert process.summary()["labels"] == {"FRAUD": 4, "LEGIT": 1}
    letters = pipeline.read("dead-letter")
    assert [(d["component"], d["error_type"]) for d in letters] == [
        ("detector-feedback", "bad_magic")
    ]


def test_merchant_fraud_labels_feed_the_merchant_features() -> None:
    pipeline = Pipeline()
    run_feedback(pipeline, [label(f"t{i}", "FRAUD") for i in range(4)])
    for n in range(3):  # minutes before NOW, as the labels' transactions: the same event day
        pipeline.send(tx(n, minutes=57 + n, merchant_id="m7"))
    worker = pipeline.worker()
    pipeline.drain(worker, 3)
    reasons = [s["reasons"] for s in pipeline.read("fraud-scores")]
    # four fraud labels against the merchant's (still tiny) volume: a high fraud rate
    assert reasons == [["merchant_high_fraud_rate"]] * 3
    # the labels arrived before the payments were scored: every window counts them
    logged = sorted(pipeline.read("decision-features"), key=lambda r: r["transaction_id"])
    for name, expected in (
        ("merchant_fraud_1d", [4.0] * 3),
        ("merchant_fraud_7d", [4.0] * 3),
        ("merchant_fraud_30d", [4.0] * 3),
        ("merchant_volume_1d", [0.0] * 3),  # volume read before the batch, counted after it
    ):
        assert [r["features"][COLUMN[name]] for r in logged] == expected, name


def test_the_heartbeat_exports_consumer_lag() -> None:
    pipeline = Pipeline()
    for n in range(3):
        pipeline.send(tx(n, minutes=n))
    process = DetectorProcess(pipeline.settings, pipeline.backends, pipeline.serde)
    process.run(lambda: False, RunOptions(until_idle_s=0.2))
    from prometheus_client import generate_latest

    exported = generate_latest(process.metrics.registry).decode()
    lags = [line for line in exported.splitlines() if line.startswith("sentinel_consumer_lag{")]
    assert len(lags) == 12 and all(line.endswith(" 0.0") for line in lags)
