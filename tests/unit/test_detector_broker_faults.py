"""The detector when the broker misbehaves: aborted and lost commits, undelivered outputs.

The faults come from the embedded broker itself (:mod:`stream_sentinel.transport.memory_faults`),
planned through its public interface: the detector's own clients are never touched.
"""

from __future__ import annotations

from collections import Counter

import pytest

from stream_sentinel.config import load_settings
from stream_sentinel.transport.memory_faults import Faults
from tests.unit.test_detector_embedded import Pipeline, tx

pytestmark = pytest.mark.unit


def faulty(pipeline: Pipeline) -> Faults:
    """Give the pipeline's detectors a broker that fails on cue (same log, same groups)."""
    return pipeline.broker_faults()


def scored(pipeline: Pipeline) -> Counter[str]:
    return Counter(s["transaction_id"] for s in pipeline.read("fraud-scores"))


def test_an_aborted_transaction_is_retried_without_duplicates() -> None:
    pipeline = Pipeline()
    faults = faulty(pipeline)
    for n in range(5):
        pipeline.send(tx(n, minutes=n))
    worker = pipeline.worker()
    faults.abort_next_commit("broker said no")
    pipeline.drain(worker, 5)
    assert (faults.pending, worker.loop.stats.aborted) == (0, 1)
    assert pipeline.profile_count("u1") == 5
    assert scored(pipeline) == Counter({f"tx-{n}": 1 for n in range(5)})


def test_a_commit_whose_reply_was_lost_is_not_processed_twice() -> None:
    pipeline = Pipeline()
    faults = faulty(pipeline)
    for n in range(5):
        pipeline.send(tx(n, minutes=n))
    worker = pipeline.worker()
    faults.lose_next_commit_reply()
    pipeline.drain(worker, 5)
    assert (faults.pending, worker.loop.stats.aborted) == (0, 0)
    assert pipeline.profile_count("u1") == 5
    assert scored(pipeline) == Counter({f"tx-{n}": 1 for n in range(5)})


def test_exactly_once_aborts_a_batch_with_an_undelivered_output_and_decides_it_once() -> None:
    pipeline = Pipeline()
    faults = faulty(pipeline)
    for n in range(4):
        pipeline.send(tx(n, minutes=n))
    worker = pipeline.worker()
    faults.fail_deliveries(2)
    pipeline.drain(worker, 4)
    assert (faults.pending, worker.loop.stats.aborted) == (0, 1)
    assert pipeline.profile_count("u1") == 4
    assert scored(pipeline) == Counter({f"tx-{n}": 1 for n in range(4)})


def test_at_least_once_never_commits_past_an_undelivered_output() -> None:
    settings = load_settings("test", environ={"SENTINEL_DETECTOR_GUARANTEE": "at-least-once"})
    pipeline = Pipeline(settings)
    faults = faulty(pipeline)
    for n in range(4):
        pipeline.send(tx(n, minutes=n))
    worker = pipeline.worker()
    faults.fail_deliveries(2)  # the first batch's first two outputs: tx-0's and tx-1's scores
    pipeline.drain(worker, 4)
    assert (faults.pending, worker.loop.stats.aborted) == (0, 1)  # re-read, not committed
    assert pipeline.profile_count("u1") == 4  # and its state applied once
    # the outputs that were delivered are delivered again (at-least-once), the others once
    assert scored(pipeline) == Counter({"tx-0": 1, "tx-1": 1, "tx-2": 2, "tx-3": 2})


def test_a_producer_that_turned_fatal_after_a_broker_restart_is_replaced_not_fatal_to_us() -> None:
    # librdkafka: commit needs an abort, then the abort meets INVALID_TXN_STATE (fatal, but no
    # other instance took over): a new producer settles the transaction; the batch is re-read
    from stream_sentinel.errors import ProducerFatal, TransactionAborted

    pipeline = Pipeline()
    faults = faulty(pipeline)
    for n in range(5):
        pipeline.send(tx(n, minutes=n))
    worker = pipeline.worker()
    faults.fail_next("commit_transaction", TransactionAborted("coordinator moved; abort"))
    faults.fail_next(
        "abort_transaction",
        ProducerFatal("abort_transaction: fatal producer error (INVALID_TXN_STATE)"),
    )
    pipeline.drain(worker, 5)
    assert (faults.pending, worker.loop.stats.aborted) == (0, 1)
    assert pipeline.profile_count("u1") == 5
    assert scored(pipeline) == Counter({f"tx-{n}": 1 for n in range(5)})
