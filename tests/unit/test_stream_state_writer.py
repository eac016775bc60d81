"""The state writer on the embedded store: each partition's writes go in with its watermark, and
the outcome (applied, replayed, diverged) is acted on exactly once.

The :class:`Tally` handler and the :class:`Rig` here are shared by the other ``test_stream_*``
files: one input topic, a counter per partition as the state, one output per input record.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest

from stream_sentinel.clients.backends import Backends, embedded_backends
from stream_sentinel.clock import ManualClock
from stream_sentinel.state import keys
from stream_sentinel.state.base import Batch, Guard
from stream_sentinel.state.memory_faults import FaultyStateStore, WriteFaults
from stream_sentinel.stream.handler import Step
from stream_sentinel.stream.state_writer import RepairConflict, StateWriter
from stream_sentinel.transport.base import Record, TopicPartition, TopicSpec

pytestmark = pytest.mark.unit

GROUP, TOPIC, OUT = "tally-group", "payments", "payment-events"
TALLY = "tally"  # the state: a hash in PIPELINE, one counter field per input partition


class Tally:
    """Counts the applied records of each partition; emits each record's value to ``OUT``."""

    def __init__(self) -> None:
        self.handled: list[tuple[list[int], list[bool], bool]] = []  # offsets, applies, emit
        self.committed_steps: list[tuple[Any, dict[int, bool]]] = []  # payload, applied
        self.forgotten: list[list[int]] = []

    def handle(self, records: Sequence[Record], applies: np.ndarray, emit: bool) -> Step:
        step = Step(payload=[r.offset() for r in records])
        for record, apply in zip(records, applies, strict=True):
            partition = record.partition() or 0
            batch = step.state.setdefault(partition, Batch())
            if apply:
                batch.hincrby(keys.PIPELINE, TALLY, str(partition), 1)
            if emit:
                step.outputs.append((OUT, record.key(), record.value() or b""))
        self.handled.append((step.payload, [bool(a) for a in applies], emit))
        return step

    def committed(self, step: Step, applied: dict[int, bool]) -> None:
        self.committed_steps.append((step.payload, dict(applied)))

    def forget(self, partitions: list[int]) -> None:
        self.forgotten.append(list(partitions))


class StagingTally(Tally):
    """A tally that can run with overlapped writes."""

    def __init__(self) -> None:
        super().__init__()
        self.staged_steps: list[Any] = []

    def staged(self, step: Step) -> None:
        self.staged_steps.append(step.payload)


@dataclass
class Rig:
    """Embedded backends with ``TOPIC`` and ``OUT`` (two partitions each) and a manual clock."""

    clock: ManualClock = field(default_factory=ManualClock)
    waits: ManualClock = field(default_factory=ManualClock)  # the loop's real-time pauses
    backends: Backends = field(init=False)
    faults: WriteFaults = field(init=False)  # what the store's next guarded writes get wrong

    def __post_init__(self) -> None:
        self.backends = embedded_backends(self.clock)
        store = FaultyStateStore(self.backends.state)
        self.backends.state, self.faults = store, store.faults
        self.backends.broker.admin().create_topics([TopicSpec(TOPIC, 2), TopicSpec(OUT, 2)])

    def send(self, partition: int, *values: bytes) -> None:
        producer = self.backends.broker.producer()
        for value in values:
            producer.produce(TOPIC, value, b"k", partition=partition)
        producer.flush()

    def tally(self) -> dict[int, int]:
        [fields] = self.backends.state.execute(Batch().hgetall(keys.PIPELINE, TALLY))
        return {int(p): int(n) for p, n in fields.items()}

    def watermarks(self) -> dict[int, int]:
        key = keys.watermark(GROUP, TOPIC)
        [fields] = self.backends.state.execute(Batch().hgetall(keys.PIPELINE, key))
        return {int(p): int(n) for p, n in fields.items()}

    def set_watermark(self, partition: int, offset: int) -> None:
        """What Redis comes back with after losing writes (or what a second writer wrote)."""
        key = keys.watermark(GROUP, TOPIC)
        self.backends.state.execute(Batch().hset(keys.PIPELINE, key, {str(partition): offset}))

    def read_committed(self, topic: str = OUT) -> list[bytes]:
        """Every record of ``topic`` a read_committed reader sees, partition by partition."""
        reader = self.backends.broker.consumer(None, isolation="read_committed")
        reader.assign({TopicPartition(topic, p): 0 for p in range(2)})
        values = []
        while batch := reader.consume(1000, 0.0):
            values += [r.value() or b"" for r in batch]
        reader.close()
        return sorted(values)

    def committed_offsets(self) -> dict[TopicPartition, int]:
        return dict(self.backends.broker.admin().group_offsets(GROUP))


def writes(*partitions: int) -> Step:
    """A step that adds 1 to the tally of each of ``partitions``."""
    step = Step()
    for partition in partitions:
        step.state[partition] = Batch().hincrby(keys.PIPELINE, TALLY, str(partition), 1)
    return step


class Diverged:
    """Records the writer's hand-over of a diverged partition: (partition, end)."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, int]] = []

    def __call__(self, partition: int, end: int) -> None:
        self.calls.append((partition, end))


def writer_for(rig: Rig, handler: Tally, overlap: bool = False) -> tuple[StateWriter, Diverged]:
    diverged = Diverged()
    writer = StateWriter(
        rig.backends.state,
        handler,
        group_id=GROUP,
        topic=TOPIC,
        overlap=overlap,
        on_diverged=diverged,
    )
    writer.start()
    return writer, diverged


@pytest.fixture
def rig() -> Rig:
    return Rig()


def test_each_partition_is_written_with_its_watermark(rig: Rig) -> None:
    writer, diverged = writer_for(rig, Tally())
    assert writer.write(writes(0, 1), {0: 3, 1: 5}) == {0: True, 1: True}
    assert rig.tally() == {0: 1, 1: 1}
    assert rig.watermarks() == {0: 3, 1: 5}
    assert writer.expected == {0: 3, 1: 5}
    assert diverged.calls == []


def test_a_partition_with_no_state_writes_still_advances_its_watermark(rig: Rig) -> None:
    writer, _ = writer_for(rig, Tally())
    assert writer.write(writes(0), {0: 2, 1: 7}) == {0: True, 1: True}
    assert rig.tally() == {0: 1}
    assert rig.watermarks() == {0: 2, 1: 7}


def test_a_write_whose_watermark_was_already_applied_is_a_replay_that_changes_nothing(
    rig: Rig,
) -> None:
    writer, _ = writer_for(rig, Tally())
    writer.write(writes(0), {0: 4})
    again, _ = writer_for(rig, Tally())  # e.g. our own write, retried after its reply was lost
    assert again.write(writes(0), {0: 4}) == {0: False}
    assert again.write(writes(0), {0: 3}) == {0: False}
    assert rig.tally() == {0: 1}
    assert rig.watermarks() == {0: 4}
    assert again.expected == {0: 4}  # it follows the watermark it found


def test_each_write_is_chained_on_the_watermark_this_writer_last_wrote(rig: Rig) -> None:
    writer, _ = writer_for(rig, Tally())
    key = keys.watermark(GROUP, TOPIC)
    assert writer.guard(0, 5) == Guard(keys.PIPELINE, key, "0", 5)  # unchained: expect "any"
    writer.write(writes(0), {0: 5})
    assert writer.guard(0, 9) == Guard(keys.PIPELINE, key, "0", 9, 5)
    writer.forget([0])
    assert writer.guard(0, 9) == Guard(keys.PIPELINE, key, "0", 9)


def test_a_watermark_behind_the_one_written_is_handed_over_to_be_rebuilt(rig: Rig) -> None:
    writer, diverged = writer_for(rig, Tally())
    writer.write(writes(0, 1), {0: 5, 1: 5})
    rig.set_watermark(0, 2)  # Redis came back from an AOF that missed the last write
    assert writer.write(writes(0, 1), {0: 8, 1: 8}) == {0: False, 1: True}
    assert diverged.calls == [(0, 8)]
    assert rig.tally() == {0: 1, 1: 2}  # nothing applied on the lost state
    assert rig.watermarks() == {0: 2, 1: 8}


def test_a_divergence_while_repairing_is_another_writer_not_a_lost_write(rig: Rig) -> None:
    writer, diverged = writer_for(rig, Tally())
    writer.write(writes(0), {0: 5})
    rig.set_watermark(0, 3)
    writer.repairing.add(0)
    with pytest.raises(RepairConflict) as conflict:
        writer.write(writes(0), {0: 8})
    assert conflict.value.partition == 0
    assert diverged.calls == []
    assert rig.tally() == {0: 1}


def test_an_overlapped_write_runs_on_the_writer_thread_until_it_is_settled(rig: Rig) -> None:
    handler = Tally()
    writer, _ = writer_for(rig, handler, overlap=True)
    hold = rig.faults.hold_next_write()
    step = writes(0)
    step.payload = "batch 1"
    writer.submit(step, {0: 3})
    assert hold.reached.wait(10)
    assert writer.in_flight
    assert rig.watermarks() == {}  # held on the writer thread: submit() did not wait
    assert handler.committed_steps == []
    hold.release()
    assert writer.settle() == set()
    assert handler.committed_steps == [("batch 1", {0: True})]
    assert writer.settle() == set()  # settled once: nothing more to report
    assert handler.committed_steps == [("batch 1", {0: True})]
    assert (rig.watermarks(), writer.expected, writer.in_flight) == ({0: 3}, {0: 3}, False)
    writer.close()


def test_a_failed_overlapped_write_is_reported_once_when_settled(rig: Rig) -> None:
    handler = Tally()
    writer, _ = writer_for(rig, handler, overlap=True)
    rig.faults.fail_next_write(ConnectionError("redis went away"))
    writer.submit(writes(0), {0: 3})
    with pytest.raises(ConnectionError, match="redis went away"):
        writer.settle()
    assert writer.settle() == set()
    assert handler.committed_steps == []
    writer.close()


def test_settling_an_overlapped_write_that_diverged_names_the_partition_rebuilt(
    rig: Rig,
) -> None:
    handler = Tally()
    writer, diverged = writer_for(rig, handler, overlap=True)
    writer.write(writes(0), {0: 4})
    rig.set_watermark(0, 1)
    step = writes(0)
    step.payload = "on lost state"
    writer.submit(step, {0: 6})
    assert writer.settle() == {0}
    assert diverged.calls == [(0, 6)]
    assert handler.committed_steps == [("on lost state", {0: False})]
    writer.close()
