"""The labelled performance monitors of the drift service on the embedded backends: decisions
kept from decision-features, labels from fraud-feedback, joined and settled at the label
deadline, fed to ADWIN and Page-Hinkley once each, alarms out as DriftEvents."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from stream_sentinel.config.learning import DriftSettings
from stream_sentinel.learning.drift import keys
from stream_sentinel.learning.drift.decisions import KeepingDecisions
from stream_sentinel.learning.drift.events import DriftEvent, event_id
from stream_sentinel.learning.drift.kept import PerfProgress, StoredMonitors, read_monitors
from stream_sentinel.learning.drift.labelled import LabelledHandler, LabelledOutcome
from stream_sentinel.learning.drift.policy import RetrainPolicy
from stream_sentinel.learning.drift.records import DriftRecords
from stream_sentinel.learning.drift.service import drift_loop, labelled_loop
from stream_sentinel.learning.drift.status import performance_lines
from stream_sentinel.learning.retrain_requests import requests_since
from stream_sentinel.logic.drift.outcomes import Labelled, VersionMonitors
from stream_sentinel.logic.drift.synthetic import synthetic_rows
from stream_sentinel.logic.drift.window import HOUR_MS
from stream_sentinel.state.base import Batch
from stream_sentinel.stream.loop import StreamLoop
from stream_sentinel.transport.base import TopicPartition
from tests.unit.drift_support import BANDS, PARTITIONS, START, VERSION, DriftBench, row_record

pytestmark = pytest.mark.unit

SETTINGS = DriftSettings(
    warmup_hours=0, reference_hours=4, lateness_s=0, performance_deadline_hours=2
)
LABEL_PARTITIONS = 6  # of fraud-feedback


@dataclass(frozen=True)
class Decided:
    """One decision and its label (None: never labelled)."""

    transaction_id: str
    event_time: int
    flagged: bool
    label: str | None
    version: str | None = VERSION
    delay_ms: int = HOUR_MS


class PerfBench(DriftBench):
    """The drift bench with fraud-feedback labels and both of the group's loops."""

    def __init__(self, settings: DriftSettings = SETTINGS) -> None:
        super().__init__(settings)
        self._feedback = self.serde.encoder("fraud-feedback")
        self.labelled: list[LabelledOutcome] = []
        self.labels_produced = 0

    def decide(self, decided: Sequence[Decided]) -> None:
        features, _ = synthetic_rows(np.random.default_rng(5), len(decided))
        for i, one in enumerate(decided):
            score = 0.9 if one.flagged else 0.1
            record = row_record(one.transaction_id, one.event_time, features[i], score)
            record["model_version"] = one.version
            self._producer.produce(
                self.topics.decision_features, self._encode(record), one.transaction_id.encode()
            )
        self._producer.flush(10.0)
        self.produced += len(decided)

    def label(self, decided: Sequence[Decided]) -> None:
        for one in decided:
            if one.label is not None:
                self._label(one.transaction_id, one.event_time, one.label, one.delay_ms)
        self._producer.flush(10.0)

    def label_tick(self, hour: int) -> None:
        """A late label on every fraud-feedback partition at ``hour``: the label clock moves."""
        for partition in range(LABEL_PARTITIONS):
            self._label(f"clock-{hour}-{partition}", START, "LEGIT", hour * HOUR_MS, partition)
        self._producer.flush(10.0)

    def _label(
        self, transaction_id: str, event_time: int, label: str, delay_ms: int, to: int | None = None
    ) -> None:
        record = {
            "transaction_id": transaction_id,
            "user_id": "u1",
            "merchant_id": None,
            "event_time": event_time,
            "label": label,
            "source": "ANALYST",
            "confidence": 0.9,
            "pattern": None,
            "label_time": event_time + delay_ms,
        }
        key = transaction_id.encode()
        self._producer.produce(
            self.topics.fraud_feedback, self._feedback(record), key, partition=to
        )
        self.labels_produced += 1

    def loops(self) -> tuple[StreamLoop, StreamLoop]:
        """Both members of drift-group, started and assigned (an eager rebalance needs both)."""
        handler = LabelledHandler(
            self.serde,
            self.backends.state,
            self.settings,
            self.topics,
            self.clock,
            self.labelled.append,
        )
        deadline_ms = self.settings.performance_deadline_hours * HOUR_MS
        keeping = KeepingDecisions(
            self.handler(), self.serde, lambda v: BANDS, "HIGH", deadline_ms, handler
        )
        decisions = drift_loop(
            self.backends.broker, self.backends.state, keeping, self.settings, self.topics, 500
        )
        labels = labelled_loop(
            self.backends.broker, self.backends.state, handler, self.settings, self.topics, 50
        )
        for loop in (decisions, labels):
            loop.poll_timeout_s = 0.0
            loop.start()
        for _ in range(100):
            if all(loop.consumer and loop.consumer.assignment() for loop in (decisions, labels)):
                break
            decisions.poll()
            labels.poll()
        return decisions, labels

    def run_all(self, loops: tuple[StreamLoop, StreamLoop] | None = None) -> None:
        loops = loops or self.loops()
        try:
            for _ in range(2_000):
                if self.unread(loops[0], "decision_features") + self.unread(
                    loops[1], "fraud_feedback"
                ):
                    loops[0].poll()
                    loops[1].poll()
                    continue
                return
            raise AssertionError("records left unread")
        finally:
            for loop in loops:
                loop.close()

    def unread(self, loop: StreamLoop, topic: str) -> int:
        name = getattr(self.topics, topic)
        count = PARTITIONS if topic == "decision_features" else LABEL_PARTITIONS
        tps = [TopicPartition(name, p) for p in range(count)]
        consumer = loop.consumer
        assert consumer is not None
        ends = self.backends.broker.admin().end_offsets(tps)
        committed = consumer.committed(tps)
        return sum(ends[tp] - (committed[tp] or 0) for tp in tps)

    def monitors(self) -> dict[str, StoredMonitors]:
        return read_monitors(self.backends.state)

    def perf_events(self) -> list[dict[str, Any]]:
        return [e for e in self.events() if e["statistic"] == "outcome_mean"]


def hour_of_decisions(hour: int, seed: int, error_rate: float, n: int = 200) -> list[Decided]:
    """``n`` labelled decisions in ``hour`` (from START): a tenth flagged, each decision wrong
    with chance ``error_rate`` (a flagged legit payment, or a missed fraud)."""
    rng = np.random.default_rng(seed)
    times = START + hour * HOUR_MS + np.sort(rng.integers(0, HOUR_MS, n))
    flagged = rng.random(n) < 0.1
    wrong = rng.random(n) < error_rate
    fraud = flagged != wrong
    return [
        Decided(f"tx-{hour}-{i}", int(times[i]), bool(flagged[i]), "FRAUD" if fraud[i] else "LEGIT")
        for i in range(n)
    ]


def settle(bench: PerfBench, last_hour: int) -> None:
    """Move both clocks far enough that every hour up to ``last_hour`` settles."""
    bench.tick(last_hour + 1 + SETTINGS.performance_deadline_hours)
    bench.label_tick(last_hour + 1 + SETTINGS.performance_deadline_hours)


def expected_alarms(decided: list[list[Decided]]) -> tuple[VersionMonitors, list[str]]:
    """The pure monitors fed the same hours in the same order, and the alarms' ids they give
    (a monitor's first detection of an hour)."""
    monitors, ids = VersionMonitors.fresh(), []
    for hour in decided:
        for found in monitors.update(
            Labelled(d.event_time, d.transaction_id, d.flagged, d.label == "FRAUD") for d in hour
        ):
            ids.append(
                event_id(VERSION, found.monitor, None, found.event_time // HOUR_MS * HOUR_MS)
            )
    return monitors, sorted(set(ids))


def test_each_label_is_joined_to_its_decision_and_counted_exactly_once() -> None:
    bench = PerfBench()
    hour: list[Decided] = []
    for i in range(40):  # 8 flagged: 5 fraud, 3 legit; 4 missed frauds; 20 legit; 8 unlabelled
        flagged, label = i < 8, "FRAUD" if i < 5 or 8 <= i < 12 else "LEGIT"
        hour.append(Decided(f"a-{i}", START + 60_000 * i, flagged, None if i >= 32 else label))
    stray = [
        Decided("no-decision", START + 1000, False, "FRAUD"),  # its decision was never read
        Decided("a-1", START + 60_000, True, "LEGIT", delay_ms=3 * HOUR_MS),  # past the deadline
        Decided("rules-1", START + 2000, True, "FRAUD", version=None),  # no model decided it
    ]
    bench.decide([*hour, stray[2]])
    bench.label(hour)
    bench.label([stray[0], stray[1], stray[2]])
    settle(bench, 0)
    bench.run_all()
    [stored] = bench.monitors().values()
    error, precision = stored.summary["adwin-error"], stored.summary["adwin-precision"]
    assert (error["outcomes"], error["mean"]) == (32, 7 / 32)  # 3 flagged legit + 4 missed
    assert (precision["outcomes"], precision["mean"]) == (8, 5 / 8)
    assert sum(o.unjoined for o in bench.labelled) == 2
    # the stray late label, and the six clock labels (given 3 hours after their transaction)
    assert sum(o.late for o in bench.labelled) == 1 + LABEL_PARTITIONS
    assert sum(o.outcomes for o in bench.labelled) == 32
    assert [b for o in bench.labelled for b in o.settled] == [START // HOUR_MS]
    # a settling batch's other partitions may write the bucket's rows after the lead deleted
    # them: the next settlement tidies them away
    settle(bench, 1)
    bench.run_all()
    settled = PerfProgress.decode(
        bench.backends.state.execute(Batch().get(keys.NS, keys.PERF_PROGRESS))[0]
    ).settled
    assert settled == START // HOUR_MS + 2
    left = sorted(bench.backends.state.scan(keys.NS, "drift:perf:*"))
    kept = [k for k in left if ":decisions:" in k or ":labels:" in k]
    assert all(int(k.rsplit(":", 1)[1]) >= settled for k in kept)
    assert sum(o.outcomes for o in bench.labelled) == 32  # nothing counted again


def test_a_change_in_the_error_rate_alarms_after_it_and_never_before() -> None:
    bench = PerfBench()
    hours = [hour_of_decisions(h, 40 + h, 0.05 if h < 10 else 0.25) for h in range(16)]
    for decided in hours:
        bench.decide(decided)
        bench.label(decided)
    settle(bench, 15)
    bench.run_all()
    events = bench.perf_events()
    pure, expected = expected_alarms(hours)
    assert sorted(e["event_id"] for e in events) == expected
    [stored] = bench.monitors().values()
    assert stored.state == pure.to_json()
    error_events = [e for e in events if e["monitor"].endswith("-error")]
    assert [e["monitor"] for e in error_events] == ["adwin-error", "page-hinkley-error"]
    assert min(e["window_start"] for e in events) >= START + 10 * HOUR_MS  # none before
    assert all(e["severity"] == "critical" and e["value"] > e["threshold"] for e in error_events)
    stored_alarms = DriftRecords(bench.backends.state).alarms()
    assert sorted(e.event_id for e in stored_alarms) == expected
    first = min(error_events, key=lambda e: e["window_start"])
    [request] = requests_since(bench.backends.state, 0)
    assert request.request_id == f"drift-{VERSION}-{first['window_start']}"
    assert request.reason.startswith(f"critical {first['monitor']} (outcome mean ")


def test_a_stationary_outcome_stream_raises_no_alarm() -> None:
    bench = PerfBench()
    hours = [hour_of_decisions(h, 40 + h, 0.05) for h in range(16)]
    for decided in hours:
        bench.decide(decided)
        bench.label(decided)
    settle(bench, 15)
    bench.run_all()
    assert bench.perf_events() == []
    [stored] = bench.monitors().values()
    assert stored.summary["adwin-error"]["outcomes"] == 16 * 200


def _state(bench: PerfBench) -> dict[str, Any]:
    [stored] = bench.monitors().values()
    return {"state": stored.state, "summary": stored.summary}


def _changed_traffic(bench: PerfBench) -> list[list[Decided]]:
    hours = [hour_of_decisions(h, 40 + h, 0.05 if h < 10 else 0.25) for h in range(16)]
    for h, decided in enumerate(hours):  # each hour's labels come an hour later
        bench.decide(decided)
        bench.tick(h + 1)
        bench.label(decided)
        bench.label_tick(h + 2)
    settle(bench, 15)
    return hours


def test_a_restart_part_way_replays_the_monitors_and_counts_nothing_twice() -> None:
    once = PerfBench()
    _changed_traffic(once)
    once.run_all()
    bench = PerfBench()
    _changed_traffic(bench)
    for _ in range(3):  # stopped part-way three times; each new process replays from DB4
        decisions, labels = bench.loops()
        for _ in range(12):
            decisions.poll()
            labels.poll()
        assert bench.unread(labels, "fraud_feedback") > 0  # stopped part-way
        decisions.close()
        labels.close()
    bench.run_all()
    assert _state(bench) == _state(once)
    assert [e["event_id"] for e in bench.perf_events()] == [
        e["event_id"] for e in once.perf_events()
    ]


def test_a_crash_before_the_state_write_is_repaired_without_counting_twice() -> None:
    once = PerfBench()
    _changed_traffic(once)
    once.run_all()
    bench = PerfBench()
    _changed_traffic(bench)
    decisions, labels = bench.loops()
    for _ in range(20):
        decisions.poll()
        labels.poll()
    bench.store.faults.fail_next_write(RuntimeError("the process died"))
    with pytest.raises(RuntimeError, match="the process died"):
        for _ in range(50):
            labels.poll()
    decisions._close_clients()
    labels._close_clients()
    bench.run_all()
    assert _state(bench) == _state(once)
    assert len(bench.perf_events()) == len(once.perf_events())


def test_the_setting_keeps_performance_alarms_from_asking_for_a_retrain() -> None:
    bench = PerfBench(SETTINGS.model_copy(update={"performance_retrain": False}))
    _changed_traffic(bench)
    bench.run_all()
    assert bench.perf_events()
    assert requests_since(bench.backends.state, 0) == []


def test_a_performance_alarm_that_improved_is_a_warning_and_asks_for_nothing() -> None:
    event = DriftEvent(
        "id",
        "adwin-error",
        None,
        "outcome_mean",
        0.02,
        0.1,
        0.0,
        0.0,
        0,
        HOUR_MS,
        500,
        100,
        "warning",
        VERSION,
        HOUR_MS,
    )
    policy = RetrainPolicy(("alert-rate",), ("amount",), 24)
    assert policy.reason([event], None) is None
    worse = DriftEvent(**{**event.to_record(), "severity": "critical", "value": 0.3})
    assert policy.reason([worse], None) == (
        f"critical adwin-error (outcome mean 0.3, was 0.1) in {VERSION} window 1970-01-01T00:00Z"
    )
    assert RetrainPolicy(("alert-rate",), ("amount",), 24, False).reason([worse], None) is None


def test_status_shows_each_monitor_with_its_outcomes_and_alarms() -> None:
    bench = PerfBench()
    _changed_traffic(bench)
    bench.run_all()
    records = DriftRecords(bench.backends.state)
    lines = performance_lines(*records.performance(), records.alarms())
    assert lines[0].startswith("performance (labelled outcomes settled to ")
    assert lines[1] == f"model {VERSION}:"
    rows = {line.split()[0]: line.split() for line in lines[3:]}
    assert sorted(rows) == sorted(
        ["adwin-error", "page-hinkley-error", "adwin-precision", "page-hinkley-precision"]
    )
    assert rows["adwin-error"][1] == f"{16 * 200:,}"
    [stored] = bench.monitors().values()
    assert rows["adwin-error"][2] == f"{stored.summary['adwin-error']['mean']:.4f}"
