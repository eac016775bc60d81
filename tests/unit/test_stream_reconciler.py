"""The reconciler on the embedded backends: state is brought in line with the committed offsets,
rebuilt after Redis lost writes, and a repair stops when another worker writes the partition."""

from __future__ import annotations

import pytest

from stream_sentinel.stream import reconciler as reconciling
from stream_sentinel.stream.reconciler import REPAIR_TIMEOUT_S, Reconciler
from stream_sentinel.transport.base import Consumer, TopicPartition
from tests.unit.test_stream_state_writer import GROUP, TOPIC, Rig, Tally, writer_for, writes

pytestmark = pytest.mark.unit

P0, P1 = TopicPartition(TOPIC, 0), TopicPartition(TOPIC, 1)


@pytest.fixture
def rig() -> Rig:
    return Rig()


class Progress:
    """The watchdog's stand-in: counts repair rounds and moves the clock on by ``step_s``."""

    def __init__(self, rig: Rig, step_s: float = 0.0) -> None:
        self.rig, self.step_s, self.rounds = rig, step_s, 0

    def __call__(self) -> None:
        self.rounds += 1
        self.rig.clock.advance(self.step_s)


def setup(
    rig: Rig, max_batch: int = 100, progress: Progress | None = None
) -> tuple[Reconciler, Tally, Consumer]:
    handler = Tally()
    writer, _ = writer_for(rig, handler)
    reconciler = Reconciler(
        rig.backends.broker,
        handler,
        writer,
        max_batch=max_batch,
        waits=rig.clock,
        progress=progress or Progress(rig),
    )
    member = rig.backends.broker.consumer(GROUP)
    member.subscribe([TOPIC])
    member.consume(1, 0.0)  # joins the group: both partitions are this member's
    assert sorted(member.assignment()) == [P0, P1]
    return reconciler, handler, member


def commit(rig: Rig, offsets: dict[TopicPartition, int]) -> None:
    rig.backends.broker.cluster.group(GROUP).committed.update(offsets)


def test_state_that_lags_the_committed_offsets_is_repaired_up_to_them(rig: Rig) -> None:
    rig.send(0, b"a", b"b", b"c", b"d", b"e")
    reconciler, handler, member = setup(rig, max_batch=2)
    reconciler.writer.write(writes(0), {0: 2})  # state up to offset 2 ...
    commit(rig, {P0: 5})  # ... outputs and offsets up to 5: a crash came in between
    assert reconciler.reconcile(member, [P0, P1]) == 3
    assert rig.tally() == {0: 4}
    assert rig.watermarks() == {0: 5}
    assert handler.handled == [([2, 3], [True, True], False), ([4], [True], False)]
    assert handler.committed_steps == [([2, 3], {0: True}), ([4], {0: True})]
    # P1: nothing committed, nothing applied: its first write expects no watermark at all
    assert reconciler.writer.expected == {0: 5, 1: None}
    assert rig.read_committed() == []  # a repair writes state only


def test_a_partition_with_no_state_is_repaired_from_the_start_of_its_log(rig: Rig) -> None:
    rig.send(1, b"a", b"b", b"c")
    reconciler, _, member = setup(rig)
    commit(rig, {P1: 3})
    assert reconciler.reconcile(member, [P1]) == 3
    assert (rig.tally(), rig.watermarks()) == ({1: 3}, {1: 3})


def test_state_in_line_with_the_offsets_chains_the_next_write_on_its_watermark(
    rig: Rig,
) -> None:
    rig.send(0, b"a", b"b", b"c")
    reconciler, handler, member = setup(rig)
    reconciler.writer.write(writes(0), {0: 3})
    reconciler.writer.forget([0])  # a new owner knows nothing of it
    commit(rig, {P0: 3})
    assert reconciler.reconcile(member, [P0]) == 0
    assert reconciler.writer.expected == {0: 3}
    assert handler.handled == []


def test_state_ahead_of_the_offsets_leaves_the_records_below_its_watermark_alone(
    rig: Rig,
) -> None:
    rig.send(0, b"a", b"b", b"c", b"d", b"e", b"f")
    rig.send(1, b"g", b"h")
    reconciler, _, member = setup(rig)
    reconciler.writer.write(writes(0), {0: 4})
    commit(rig, {P0: 1})  # an operator rewound the group
    assert reconciler.reconcile(member, [P0, P1]) == 0
    assert reconciler.skip_state_until == {0: 4}
    reader = rig.backends.broker.consumer(None)
    reader.assign({P0: 0, P1: 0})
    records = reader.consume(100, 0.0)
    assert [(r.partition(), r.offset()) for r in records] == [
        (0, 0), (0, 1), (0, 2), (0, 3), (0, 4), (0, 5), (1, 0), (1, 1)
    ]  # fmt: skip
    assert reconciler.applies(records).tolist() == [False] * 4 + [True] * 4
    reconciler.forget([0])  # the partition went to another worker
    assert reconciler.applies(records).tolist() == [True] * 8


def test_a_partition_whose_writes_redis_lost_is_rebuilt_from_the_watermark_it_kept(
    rig: Rig,
) -> None:
    rig.send(0, b"a", b"b", b"c", b"d", b"e")
    reconciler, handler, member = setup(rig)
    reconciler.writer.write(writes(0), {0: 2})
    assert reconciler.rebuild(member, 0, 5) == 3  # Redis kept the watermark at 2
    assert handler.forgotten == [[0]]  # the cache was built on what Redis lost
    assert (rig.tally(), rig.watermarks()) == ({0: 4}, {0: 5})
    assert reconciler.writer.expected == {0: 5}


def test_a_partition_lost_meanwhile_is_left_to_its_new_owner(rig: Rig) -> None:
    rig.send(0, b"a", b"b", b"c")
    reconciler, handler, _ = setup(rig)
    reconciler.writer.write(writes(0), {0: 1})
    assert reconciler.rebuild(None, 0, 3) == 0  # None: the group consumer is gone
    assert handler.forgotten == [[0]]
    assert reconciler.writer.expected == {}
    assert (rig.tally(), rig.watermarks()) == ({0: 1}, {0: 1})


def test_a_batch_handled_on_lost_state_is_applied_again_on_the_rebuilt_state(
    rig: Rig,
) -> None:
    rig.send(0, b"a", b"b", b"c", b"d", b"e")
    reconciler, handler, member = setup(rig)
    reconciler.writer.write(writes(0), {0: 2})  # the rebuilt state, up to offset 2
    assert reconciler.reapply_batch(member, 0, 5) == 3
    assert handler.handled == [([2, 3, 4], [True, True, True], False)]
    assert (rig.tally(), rig.watermarks()) == ({0: 4}, {0: 5})


def test_a_batch_of_a_partition_another_worker_repairs_is_not_applied_again(rig: Rig) -> None:
    rig.send(0, b"a", b"b", b"c")
    reconciler, handler, member = setup(rig)
    assert reconciler.reapply_batch(member, 0, 3) == 0  # not chained: the rebuild stopped
    assert handler.handled == []
    assert handler.forgotten == [[0]]
    assert (rig.tally(), rig.watermarks()) == ({}, {})


def test_a_second_writer_during_a_repair_stops_it_without_applying_twice(rig: Rig) -> None:
    rig.send(0, b"a", b"b", b"c", b"d")
    reconciler, handler, member = setup(rig, max_batch=2)
    # a zombie owner moves the watermark under the repair, just before its first write
    rig.faults.before_next_write(lambda: rig.set_watermark(0, 1))
    commit(rig, {P0: 4})
    assert reconciler.reconcile(member, [P0]) == 0
    assert rig.tally() == {}  # the zombie's state is left as it wrote it
    assert rig.watermarks() == {0: 1}
    assert handler.forgotten == [[0]]
    assert reconciler.writer.expected == {}
    assert reconciler.writer.repairing == set()


def test_a_repair_that_cannot_reach_the_committed_offset_gives_up_on_the_clock(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reconciling, "REPAIR_POLL_S", 0.0)
    rig.send(0, b"a", b"b", b"c")
    progress = Progress(rig, step_s=50.0)
    reconciler, _, member = setup(rig, progress=progress)
    commit(rig, {P0: 10})  # past the end of the log: those records are gone
    with pytest.raises(TimeoutError) as timed_out:
        reconciler.reconcile(member, [P0])
    assert str(timed_out.value) == (
        f"{P0}: could not re-read offsets up to 10 in {REPAIR_TIMEOUT_S} s"
    )
    assert (progress.rounds, rig.clock.monotonic()) == (3, 150.0)  # at 0, 50, 100 s
    assert (rig.tally(), rig.watermarks()) == ({0: 3}, {0: 3})  # what it re-read, it kept
    assert reconciler.writer.repairing == set()
