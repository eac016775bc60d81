"""The hostile corpus through the whole detector on the embedded backends: every hostile record
becomes a dead letter with its own reason, every valid neighbour is decided exactly once."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from stream_sentinel.errors import UnpublishableBatch
from stream_sentinel.stream import loop as processing
from stream_sentinel.stream.loop import Step
from stream_sentinel.transport.base import TopicPartition, TopicSpec
from stream_sentinel.transport.partitioner import partition_for
from stream_sentinel.wire.serde import frame
from tests.hostile import Case, corpus, schema_text, v2_body
from tests.unit.test_detector_embedded import Pipeline

pytestmark = pytest.mark.unit


def register(pipeline: Pipeline, case: Case, n: int) -> int:
    if case.schema is None:
        return 0
    # each case under a subject of its own: the cases are not versions of one another
    return pipeline.serde.registry.register(f"hostile-{n}-value", schema_text(case.schema))


def send_raw(pipeline: Pipeline, value: bytes | None, key: bytes | None) -> None:
    producer = pipeline.backends.broker.producer()
    producer.produce(pipeline.topics.transactions, value, key)
    producer.flush()


@pytest.mark.parametrize("case", corpus(), ids=lambda case: case.name)
def test_a_hostile_record_is_dead_lettered_with_its_reason_and_its_neighbours_are_decided(
    case: Case,
) -> None:
    pipeline = Pipeline()
    valid_id = pipeline.serde.registry.register(
        "transactions-value", schema_text(corpus()[5].schema or {})
    )
    schema_id = register(pipeline, case, 0)
    send_raw(pipeline, frame(valid_id, v2_body("before", "u1")), b"u1")
    send_raw(pipeline, case.build(schema_id), case.key if case.key is not None else b"u1")
    send_raw(pipeline, frame(valid_id, v2_body("after", "u1")), b"u1")
    worker = pipeline.worker()
    pipeline.drain(worker, 3)
    assert sorted(s["transaction_id"] for s in pipeline.read("fraud-scores")) == [
        "after",
        "before",
    ]
    [letter] = pipeline.read("dead-letter")
    assert letter["error_type"] == case.error_type, letter["reason"]
    assert pipeline.profile_count("u1") == 2
    assert worker.summary()["dead_letters"] == {case.error_type: 1}


def test_the_whole_corpus_in_one_batch_loses_nothing() -> None:
    pipeline = Pipeline()
    cases = corpus()
    ids = [register(pipeline, case, n) for n, case in enumerate(cases)]
    valid_id = ids[5]  # the plain Transaction v2 case
    for n, (case, schema_id) in enumerate(zip(cases, ids, strict=True)):
        send_raw(pipeline, frame(valid_id, v2_body(f"ok-{n}", f"u{n % 4}")), f"u{n % 4}".encode())
        send_raw(pipeline, case.build(schema_id), case.key if case.key is not None else b"h")
    worker = pipeline.worker()
    pipeline.drain(worker, 2 * len(cases))
    decided = Counter(s["transaction_id"] for s in pipeline.read("fraud-scores"))
    assert decided == Counter({f"ok-{n}": 1 for n in range(len(cases))})
    letters = pipeline.read("dead-letter")
    assert Counter(letter["error_type"] for letter in letters) == Counter(
        case.error_type for case in cases
    )


@pytest.mark.parametrize(
    ("case_name", "reason"),
    [
        ("NaN amount", "amount is nan (not a finite number)"),
        ("negative amount", "amount -5.0 is negative (zero, a card check, is fine)"),
        ("infinite amount", "amount is -inf (not a finite number)"),
        (
            "recursive schema, 30,000 deep",
            "the record nests deeper than 32 levels (SENTINEL_DETECTOR_MAX_DECODE_DEPTH)",
        ),
        (
            "array of nulls, 2^62 items",
            "field nothing: more than 10,000 array items and map entries in one record "
            "(SENTINEL_DETECTOR_MAX_DECODE_ITEMS)",
        ),
        (
            "enum index 99",
            "field channel: enum io.streamsentinel.Channel index 99 does not exist "
            "(it has 5: 0..4)",
        ),
        ("union branch 5", "field currency: union branch 5 does not exist (it has 2: 0..1)"),
        (
            "foreign record type",
            "its records are probe.foreign.NotATransaction, not io.streamsentinel.Transaction; "
            "only io.streamsentinel.Transaction records are read from this topic",
        ),
    ],
)
def test_each_refusal_says_what_was_wrong(case_name: str, reason: str) -> None:
    pipeline = Pipeline()
    [case] = [c for c in corpus() if c.name == case_name]
    schema_id = register(pipeline, case, 0)
    send_raw(pipeline, case.build(schema_id), b"u1")
    worker = pipeline.worker()
    pipeline.drain(worker, 1)
    [letter] = pipeline.read("dead-letter")
    assert letter["reason"].removeprefix(f"schema id {schema_id}: ") == reason


def test_a_zero_amount_card_verification_is_decided_not_dead_lettered() -> None:
    pipeline = Pipeline()
    valid_id = pipeline.serde.registry.register(
        "transactions-value", schema_text(corpus()[5].schema or {})
    )
    send_raw(pipeline, frame(valid_id, v2_body("verify", "u1", amount=0.0)), b"u1")
    send_raw(pipeline, frame(valid_id, v2_body("minus-zero", "u1", amount=-0.0)), b"u1")
    worker = pipeline.worker()
    pipeline.drain(worker, 2)
    scores = pipeline.read("fraud-scores")
    assert [(s["transaction_id"], s["amount"]) for s in scores] == [
        ("verify", 0.0),
        ("minus-zero", 0.0),
    ]
    assert pipeline.read("dead-letter") == []
    assert pipeline.profile_count("u1") == 2


class _Oversized:
    """A handler whose every output is larger than the producer (or the topic) accepts."""

    def __init__(self, size: int) -> None:
        self.size = size

    def handle(self, records: Any, applies: Any, emit: bool) -> Step:
        return Step(outputs=[("fraud-scores", b"k", b"x" * self.size)])

    def staged(self, step: Step) -> None: ...

    def committed(self, step: Step, applied: dict[int, bool]) -> None: ...

    def forget(self, partitions: list[int]) -> None: ...


@pytest.mark.parametrize("guarantee", ["exactly-once", "at-least-once"])
@pytest.mark.parametrize(
    ("size", "why"),
    [(1_100_000, "produce to fraud-scores failed: Broker: Message size too large"),
     (5_000, "")],
    ids=["refused-by-the-producer", "refused-by-the-topic-at-delivery"],
)  # fmt: skip
def test_a_batch_the_broker_refuses_for_good_stops_the_loop_and_skips_nothing(
    guarantee: str, size: int, why: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(processing, "RETRY_PAUSE_S", 0.0)
    pipeline = Pipeline()
    admin = pipeline.backends.broker.admin()
    admin.delete_topics(["fraud-scores"])
    admin.create_topics([TopicSpec("fraud-scores", 12, {"max.message.bytes": "2000"})])
    send_raw(pipeline, b"anything", b"u1")
    loop = processing.StreamLoop(
        pipeline.backends.broker, pipeline.backends.state, _Oversized(size), group_id="g",
        topic="transactions", guarantee=guarantee,  # type: ignore[arg-type]
        transactional_id="g-0", max_batch=10, poll_timeout_s=0.05,
    )  # fmt: skip
    loop.start()
    with pytest.raises(UnpublishableBatch) as stopped:
        for _ in range(50):
            loop.poll()
            send_raw(pipeline, b"more", b"u1")  # the batch's end moves; its start does not
    partition = partition_for(b"u1", 12)
    assert str(stopped.value).startswith(
        f"the outputs of the batch starting at transactions[{partition}] from 0 were refused 3 "
        f"times ({why}"
    )
    assert loop.stats.aborted == 2  # rewound twice, then stopped on the third refusal
    tp = TopicPartition("transactions", partition)
    assert loop.consumer is not None and loop.consumer.committed([tp], 5.0).get(tp) is None
    loop.close()
