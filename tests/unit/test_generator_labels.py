"""Delayed labels: only for served transactions, never before their delay, with sources."""

from __future__ import annotations

import numpy as np

from stream_sentinel.domain import FeedbackSource, Label
from stream_sentinel.generator import LabelPolicy, SimulationConfig, Simulator
from stream_sentinel.generator.batch import FeedbackBatch, TransactionBatch
from stream_sentinel.generator.labels import ANALYST, CHARGEBACK, MAX_DELAY_MULTIPLE

DELAY_MS = 30 * 60_000


def _simulator(**policy: float) -> Simulator:
    labels = LabelPolicy(delay_ms=DELAY_MS, **policy)
    return Simulator(SimulationConfig(users=2_000, fraud_rate=0.02, labels=labels), seed=12)


def _stream(
    simulator: Simulator, batches: int
) -> tuple[TransactionBatch, FeedbackBatch, list[int]]:
    """Serve batches, collecting labels after each; records each release's cut-off time."""
    served, released, cutoffs = [], [], []
    for _ in range(batches):
        batch = simulator.next_batch(4_000)
        served.append(batch)
        labels = simulator.labels_due(simulator.now_ms)
        released.append(labels)
        cutoffs.extend([simulator.now_ms] * len(labels))
    return TransactionBatch.concat(served), FeedbackBatch.concat(released), cutoffs


def test_labels_arrive_after_their_delay_and_never_before() -> None:
    transactions, labels, cutoffs = _stream(_simulator(), 30)
    delay = labels.label_time - labels.event_time
    assert len(labels) > 3_000
    assert delay.min() >= DELAY_MS
    assert delay.max() <= MAX_DELAY_MULTIPLE * DELAY_MS
    assert np.all(labels.label_time <= np.array(cutoffs))
    # Each label belongs to a transaction already served, with its true event time.
    position = np.searchsorted(transactions.seq, labels.seq)
    np.testing.assert_array_equal(transactions.seq[position], labels.seq)
    np.testing.assert_array_equal(transactions.timestamp[position], labels.event_time)


def test_no_label_is_released_for_a_transaction_not_yet_served() -> None:
    simulator = _simulator()
    simulator.next_batch(1_000)
    far_future = simulator.now_ms + 365 * 86_400_000
    labels = simulator.labels_due(far_future)
    assert len(labels) > 0
    assert labels.seq.max() < 1_000
    assert len(simulator.labels_due(far_future)) == 0


def test_fraud_is_labelled_with_its_pattern_mostly_by_chargebacks() -> None:
    transactions, labels, _ = _stream(_simulator(), 30)
    fraud = labels.take(labels.fraud)
    truth = transactions.pattern[np.searchsorted(transactions.seq, fraud.seq)]
    np.testing.assert_array_equal(fraud.pattern, truth)
    assert np.mean(fraud.source == CHARGEBACK) > 0.5
    chargeback = fraud.label_time - fraud.event_time
    analyst = chargeback[fraud.source == ANALYST]
    assert np.median(analyst) < np.median(chargeback[fraud.source == CHARGEBACK])


def test_a_share_of_legitimate_payments_gets_legit_labels() -> None:
    transactions, labels, _ = _stream(_simulator(legit_share=0.1), 30)
    legit_labels = labels.take(~labels.fraud)
    assert np.all(legit_labels.pattern == 0)
    share = len(legit_labels) / np.sum(~transactions.is_fraud)
    assert 0.08 < share < 0.11


def test_noise_flips_and_missing_drops_labels() -> None:
    transactions, labels, _ = _stream(_simulator(noise=0.1, missing=0.5), 30)
    truth = transactions.is_fraud[np.searchsorted(transactions.seq, labels.seq)]
    wrong = np.mean(labels.fraud != truth)
    assert 0.07 < wrong < 0.13
    reported = np.sum(truth) / np.sum(transactions.is_fraud)
    assert 0.4 < reported < 0.6


def test_labels_convert_to_feedback_records() -> None:
    simulator = _simulator()
    simulator.next_batch(20_000)
    labels = simulator.labels_due(simulator.now_ms)
    feedback = simulator.feedback(labels.take(labels.fraud))
    assert feedback[0].label is Label.FRAUD
    # fraud is reported by chargebacks, analysts and customers (never OTHER), each with its
    # own confidence: a source mapped to the wrong code would pair it with another's
    assert {(f.source, f.confidence) for f in feedback} == {
        (FeedbackSource.CHARGEBACK, 0.99),
        (FeedbackSource.ANALYST, 0.9),
        (FeedbackSource.CUSTOMER, 0.75),
    }
    assert feedback[0].pattern is not None
    assert feedback[0].transaction_id.startswith(simulator.id_prefix)
