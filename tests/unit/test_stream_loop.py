"""The thin loop on the embedded backends: it orchestrates the publisher, the state writer and the
reconciler, and waits for a retry on its injected clock."""

from __future__ import annotations

from typing import Any

import pytest

from stream_sentinel.errors import TransportError
from stream_sentinel.stream.loop import RETRY_PAUSE_S, StreamLoop
from stream_sentinel.transport.base import TopicPartition
from tests.unit.test_stream_state_writer import GROUP, TOPIC, Rig, StagingTally, Tally

pytestmark = pytest.mark.unit

P0, P1 = TopicPartition(TOPIC, 0), TopicPartition(TOPIC, 1)


@pytest.fixture
def rig() -> Rig:
    return Rig()


def loop_for(
    rig: Rig, handler: Tally, guarantee: str = "exactly-once", overlap: bool = False
) -> StreamLoop:
    return StreamLoop(
        rig.backends.broker, rig.backends.state, handler, group_id=GROUP, topic=TOPIC,
        guarantee=guarantee,  # type: ignore[arg-type]
        transactional_id="tally-0", max_batch=10, poll_timeout_s=0.0, clock=rig.clock,
        overlap_writes=overlap, waits=rig.waits,
    )  # fmt: skip


@pytest.mark.parametrize("guarantee", ["exactly-once", "at-least-once"])
def test_a_batch_is_published_committed_and_written_once(rig: Rig, guarantee: str) -> None:
    rig.send(0, b"a", b"b", b"c")
    rig.send(1, b"d")
    handler = Tally()
    loop = loop_for(rig, handler, guarantee)
    loop.start()
    assert loop.poll() == 4
    assert rig.read_committed() == [b"a", b"b", b"c", b"d"]
    assert rig.committed_offsets() == {P0: 3, P1: 1}
    assert (rig.tally(), rig.watermarks()) == ({0: 3, 1: 1}, {0: 3, 1: 1})
    assert handler.committed_steps == [([0, 1, 2, 0], {0: True, 1: True})]
    assert (loop.stats.records, loop.stats.batches, loop.stats.aborted) == (4, 1, 0)
    assert loop.stats.last_commit_ms == rig.clock.now_ms()
    loop.close()


def test_a_batch_not_committed_is_read_again_after_a_pause_on_the_clock(rig: Rig) -> None:
    rig.send(0, b"a", b"b", b"c")
    loop = loop_for(rig, Tally())
    loop.start()
    producer: Any = loop.publisher.producer
    real, calls = producer.send_offsets_to_transaction, []

    def unreachable_once(*args: Any, **kwargs: Any) -> None:
        calls.append(args)
        if len(calls) == 1:
            raise TransportError("send_offsets_to_transaction: Local: Timed out")
        real(*args, **kwargs)

    producer.send_offsets_to_transaction = unreachable_once
    assert loop.poll() == 3
    assert (loop.stats.aborted, loop.stats.batches) == (1, 0)
    assert rig.waits.monotonic() == RETRY_PAUSE_S  # waited in real time (a manual clock here)
    assert rig.clock.monotonic() == 0.0  # the pipeline's own time did not move
    assert (rig.read_committed(), rig.committed_offsets(), rig.tally()) == ([], {}, {})
    assert loop.poll() == 3  # the same records again
    assert (loop.stats.records, loop.stats.batches) == (3, 1)
    assert rig.read_committed() == [b"a", b"b", b"c"]
    assert (rig.committed_offsets(), rig.tally()) == ({P0: 3}, {0: 3})
    loop.close()


def test_overlapped_writes_need_a_handler_that_is_told_when_a_step_is_staged(
    rig: Rig,
) -> None:
    with pytest.raises(TypeError, match="overlap_writes needs a handler with staged"):
        loop_for(rig, Tally(), overlap=True)


def test_an_overlapped_step_is_staged_when_published_and_committed_when_settled(
    rig: Rig,
) -> None:
    handler = StagingTally()
    loop = loop_for(rig, handler, overlap=True)
    loop.start()
    rig.send(0, b"a", b"b")
    loop.poll()
    assert (handler.staged_steps, handler.committed_steps) == ([[0, 1]], [])
    rig.send(0, b"c")
    loop.poll()  # settles the first write before sending the second
    assert handler.staged_steps == [[0, 1], [2]]
    assert handler.committed_steps == [([0, 1], {0: True})]
    loop.settle()
    assert handler.committed_steps == [([0, 1], {0: True}), ([2], {0: True})]
    assert (rig.tally(), rig.watermarks(), rig.committed_offsets()) == ({0: 3}, {0: 3}, {P0: 3})
    loop.close()


def test_a_partition_assigned_with_state_behind_its_offsets_is_repaired_before_new_work(
    rig: Rig,
) -> None:
    rig.send(0, b"a", b"b", b"c")
    rig.backends.broker.cluster.group(GROUP).committed[P0] = 2  # a crash before the Redis write
    handler = Tally()
    loop = loop_for(rig, handler)
    loop.start()
    assert loop.poll() == 1  # offset 2: the repair re-applied 0 and 1 first
    assert handler.handled == [([0, 1], [True, True], False), ([2], [True], True)]
    assert loop.stats.repaired == 2
    assert (rig.tally(), rig.watermarks(), rig.read_committed()) == ({0: 3}, {0: 3}, [b"c"])
    loop.close()
