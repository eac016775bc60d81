"""The labelled performance monitors under interleavings, at the handlers' level: batches are
handled and their state writes applied (or not) by hand, so each interleaving is exact (a lost
write and its repair, a lagging decision partition, two members)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest

from stream_sentinel.config.learning import DriftSettings
from stream_sentinel.learning.drift import keys
from stream_sentinel.learning.drift.decisions import KeepingDecisions
from stream_sentinel.learning.drift.handler import DriftHandler
from stream_sentinel.learning.drift.kept import PerfProgress, monitors_of
from stream_sentinel.learning.drift.labelled import LabelledHandler, LabelledOutcome
from stream_sentinel.logic.drift.synthetic import synthetic_rows
from stream_sentinel.logic.drift.window import HOUR_MS
from stream_sentinel.state.base import Batch
from stream_sentinel.stream.handler import Step
from stream_sentinel.transport.memory_log import MemoryRecord
from tests.unit.drift_support import BANDS, PARTITIONS, START, VERSION, DriftBench, row_record
from tests.unit.test_drift_labelled import hour_of_decisions

pytestmark = pytest.mark.unit

LABEL_PARTITIONS = 6
B0 = START // HOUR_MS


class Handlers:
    """One process's two handlers on the bench's store, fed records built by hand."""

    def __init__(self, bench: DriftBench, settings: DriftSettings) -> None:
        self.bench = bench
        self.labels = LabelledHandler(
            bench.serde,
            bench.backends.state,
            settings,
            bench.topics,
            bench.clock,
            partitions=PARTITIONS,
            label_partitions=LABEL_PARTITIONS,
        )
        windows = DriftHandler(
            bench.serde, bench.backends.state, settings, lambda v: BANDS, bench.topics, bench.clock
        )
        deadline = settings.performance_deadline_hours * HOUR_MS
        self.decisions = KeepingDecisions(
            windows, bench.serde, lambda v: BANDS, "HIGH", deadline, self.labels
        )
        self._offsets: dict[tuple[str, int], int] = {}

    def record(self, topic: str, partition: int, value: bytes) -> MemoryRecord:
        at = self._offsets.get((topic, partition), 0)
        self._offsets[(topic, partition)] = at + 1
        return MemoryRecord(topic, partition, at, None, value, START, None)


def decision_records(h: Handlers, rows: Sequence[tuple[str, int, bool, int]]) -> list[Any]:
    """(transaction id, event time, flagged, partition) -> decision-features records."""
    encode = h.bench.serde.encoder("decision-features")
    features, _ = synthetic_rows(np.random.default_rng(5), len(rows))
    out = []
    for i, (tx, ts, flagged, partition) in enumerate(rows):
        record = row_record(tx, ts, features[i], 0.9 if flagged else 0.1, VERSION)
        out.append(h.record(h.bench.topics.decision_features, partition, encode(record)))
    return out


def label_records(h: Handlers, labels: Sequence[tuple[str, int, str, int, int]]) -> list[Any]:
    """(transaction id, event time, label, label time, partition) -> fraud-feedback records."""
    encode = h.bench.serde.encoder("fraud-feedback")
    out = []
    for tx, ts, label, label_time, partition in labels:
        record = {
            "transaction_id": tx,
            "user_id": "u1",
            "merchant_id": None,
            "event_time": ts,
            "label": label,
            "source": "ANALYST",
            "confidence": 0.9,
            "pattern": None,
            "label_time": label_time,
        }
        out.append(h.record(h.bench.topics.fraud_feedback, partition, encode(record)))
    return out


def handle(handler: Any, records: list[Any], emit: bool = True) -> Step:
    return handler.handle(records, np.ones(len(records), dtype=bool), emit)


def write(h: Handlers, step: Step) -> None:
    """The step's state written (every partition's part applied)."""
    for partition in sorted(step.state):
        h.bench.backends.state.execute(step.state[partition])


def settled_of(step: Step) -> list[int]:
    payload = step.payload
    found = payload[1] if isinstance(payload, tuple) else payload
    assert isinstance(found, LabelledOutcome)
    return found.settled


def test_the_decision_clock_waits_for_a_decision_partition_with_unread_records() -> None:
    """A decision partition an hour behind the others that still has records to read holds
    the settlement's decision clock, as it holds the windows' clock: its decisions of an hour
    must be in before the hour settles."""
    settings = DriftSettings(
        warmup_hours=0, reference_hours=4, lateness_s=0, performance_deadline_hours=2
    )
    h = Handlers(DriftBench(settings), settings)
    every_partition_has_unread = lambda partitions: set(partitions)  # noqa: E731
    h.decisions.unread = every_partition_has_unread
    h.labels.unread = every_partition_has_unread
    h.labels.decision_unread = every_partition_has_unread  # (the service sets both)
    # partitions 0..10 are read up to hour 10; partition 11 is read up to START only (a backlog:
    # its decision of tx-late, hour 0, is not read yet)
    ticks = [(f"tick-{p}", START + 10 * HOUR_MS, False, p) for p in range(PARTITIONS - 1)]
    write(h, handle(h.decisions, decision_records(h, [("first", START, False, 11), *ticks])))
    labels = [("tx-late", START + 1000, "FRAUD", START + HOUR_MS, 0)]
    labels += [(f"c{p}", START, "LEGIT", START + 10 * HOUR_MS, p) for p in range(6)]
    step = handle(h.labels, label_records(h, labels))
    write(h, step)
    # the windows' clock is held by partition 11 (it has unread records) ...
    assert h.decisions.windows._clock({p: START + 10 * HOUR_MS for p in range(11)}) == 0
    # ... so the bucket of tx-late must wait for its decision, not settle without it
    assert settled_of(step) == []


def _changed_hours() -> list[list[Any]]:
    return [hour_of_decisions(hr, 40 + hr, 0.05 if hr < 10 else 0.30) for hr in range(16)]


def _run(crash: bool) -> tuple[list[Any], dict[str, Any]]:
    """Decisions of 16 hours (error rate up at hour 10), then every label, then the decision
    clock moves past them all. With ``crash``, the labels batch is committed to Kafka but its
    Redis write is lost, and the decisions loop runs before the labels loop repairs it (the
    order two loops of one group can take after a restart). Returns the DriftEvents published
    (the outputs of every batch handled with emit) and the version's monitor state."""
    settings = DriftSettings(
        warmup_hours=0, reference_hours=4, lateness_s=20 * 3600, performance_deadline_hours=2
    )
    h = Handlers(DriftBench(settings), settings)
    hours = _changed_hours()
    rows = [
        (d.transaction_id, d.event_time, d.flagged, i % PARTITIONS)
        for hr in hours
        for i, d in enumerate(hr)
    ]
    write(h, handle(h.decisions, decision_records(h, rows)))
    labels = [
        (d.transaction_id, d.event_time, str(d.label), d.event_time + HOUR_MS, i % 6)
        for hr in hours
        for i, d in enumerate(hr)
    ]
    labels += [(f"c{p}", START, "LEGIT", START + 20 * HOUR_MS, p) for p in range(6)]
    published: list[Any] = []
    l1_records = label_records(h, labels)
    l1 = handle(h.labels, l1_records)
    published += l1.outputs
    assert settled_of(l1) == []  # the decision clock is not lateness past any hour yet
    if not crash:
        write(h, l1)
    ticks = [(f"tick-{p}", START + 40 * HOUR_MS, False, p) for p in range(PARTITIONS)]
    d2 = handle(h.decisions, decision_records(h, ticks))
    published += d2.outputs
    write(h, d2)
    if crash:  # the labels loop's repair: the same records again, emit=False
        repair = handle(h.labels, l1_records, emit=False)
        assert settled_of(repair) == []  # a repair restores writes and settles nothing
        published += repair.outputs
        write(h, repair)
    later = [(f"tock-{p}", START + 41 * HOUR_MS, False, p) for p in range(PARTITIONS)]
    d3 = handle(h.decisions, decision_records(h, later))  # the next batch that publishes
    published += d3.outputs
    write(h, d3)
    [blob] = h.bench.backends.state.execute(Batch().get(keys.NS, keys.PERF_PROGRESS))
    assert PerfProgress.decode(blob).settled is not None
    monitors, _ = monitors_of(h.bench.backends.state, {}, VERSION)
    return [o for o in published if o[0] == h.bench.topics.drift_events], monitors.to_json()


def test_a_settlement_in_the_other_loops_repair_still_publishes_its_alarms() -> None:
    """A labels batch committed to Kafka whose Redis write was lost, repaired after the other
    loop moved its clock: the repair settles nothing, the next batch that publishes settles
    the hours, and every alarm is published, as without the crash."""
    once, state_once = _run(crash=False)
    crashed, state_crashed = _run(crash=True)
    assert state_crashed == state_once  # the monitors are fed the same outcomes ...
    assert len(once) > 0
    assert len(crashed) == len(once)  # ... but the alarms must be published as well


def _nothing_unread(partitions: list[int]) -> set[int]:
    return set()


def test_two_members_settling_the_same_hour_feed_it_once() -> None:
    """Two ``drift run`` instances, B's batch handled while A's settling write is on its way:
    only the member numbered 0 settles, so the hour is fed once (the progress it reads and
    writes has no guard of its own)."""
    settings = DriftSettings(
        warmup_hours=0, reference_hours=4, lateness_s=0, performance_deadline_hours=2
    )
    bench = DriftBench(settings)
    a, b = Handlers(bench, settings), Handlers(bench, settings)
    for member in (a, b):
        member.labels.unread = member.decisions.unread = _nothing_unread
    b.labels.settles = False  # as `drift run --instance 1` has it: one member settles
    rows = [(f"tx-{i}", START + 1000 * i, i % 3 == 0, i % PARTITIONS) for i in range(60)]
    ticks = [(f"tick-{p}", START + 5 * HOUR_MS, False, p) for p in range(PARTITIONS)]
    write(a, handle(a.decisions, decision_records(a, [*rows, *ticks])))
    labels = [
        (
            f"tx-{i}",
            START + 1000 * i,
            "FRAUD" if i % 2 else "LEGIT",
            START + 1000 * i + HOUR_MS,
            i % 6,
        )
        for i in range(60)
    ]
    clock = [(f"c{p}", START, "LEGIT", START + 3 * HOUR_MS, p) for p in range(1, 6)]
    clock.append(("c0", START, "LEGIT", START + 5 * HOUR_MS // 2, 0))
    setup = handle(a.labels, label_records(a, [*labels, *clock]))
    assert settled_of(setup) == []  # the label clock is half an hour short
    write(a, setup)
    step_a = handle(a.labels, label_records(a, [("x0", START, "LEGIT", START + 3 * HOUR_MS, 0)]))
    late = START + 36 * HOUR_MS // 10
    step_b = handle(b.labels, label_records(b, [("x3", START, "LEGIT", late, 3)]))
    assert settled_of(step_a) == [B0]
    assert settled_of(step_b) == []
    write(a, step_a)
    write(b, step_b)
    monitors, _ = monitors_of(bench.backends.state, {}, VERSION)
    assert monitors.to_json()["adwin-error"]["seen"] == 60
