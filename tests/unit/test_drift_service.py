"""The drift service on the embedded backends: feature-log rows in, hourly windows in DB4,
DriftEvents out; restarts and crashes neither lose nor double-count a window."""

from __future__ import annotations

import json

import numpy as np
import pytest

from stream_sentinel.config.learning import DriftSettings
from stream_sentinel.learning.drift import keys
from stream_sentinel.learning.drift.checks import MonitorValue, WindowCheck
from stream_sentinel.learning.drift.handler import DriftOutcome
from stream_sentinel.learning.drift.metrics import DriftMetrics
from stream_sentinel.learning.drift.progress import VersionProgress
from stream_sentinel.learning.drift.records import DriftRecords
from stream_sentinel.learning.drift.rows import from_npy
from stream_sentinel.learning.drift.status import status_lines
from stream_sentinel.learning.retrain_requests import requests_since
from stream_sentinel.logic.drift.calibration import calibrated_reference
from stream_sentinel.logic.drift.monitors import DriftAlarm, check_window
from stream_sentinel.logic.drift.synthetic import synthetic_rows
from stream_sentinel.logic.drift.window import HOUR_MS, WindowCounts
from stream_sentinel.logic.features import FEATURES
from stream_sentinel.state.base import Batch
from stream_sentinel.transport.base import Record, TopicPartition
from tests.unit.drift_support import BANDS, PARTITIONS, SETTINGS, START, VERSION, DriftBench

pytestmark = pytest.mark.unit

REFERENCE_ROWS, WINDOW_ROWS = 1500, 300  # per hour: four reference hours, 20 x a window
DRIFTED = (10, 11)  # hours whose amounts are tripled


def traffic(bench: DriftBench, drifted: bool = True) -> None:
    """Hours 0-3 the reference, 4-11 windows (10 and 11 drifted), then a row per partition
    at hour 13 so every hour up to 12 closes."""
    for hour in range(4):
        bench.rows(hour, REFERENCE_ROWS, seed=100 + hour)
    for hour in range(4, 12):
        scale = 3.0 if drifted and hour in DRIFTED else 1.0
        bench.rows(hour, WINDOW_ROWS, seed=100 + hour, amount_scale=scale)
    bench.tick(13)


def run_all(bench: DriftBench) -> None:
    loop = bench.loop()
    try:
        bench.drain_all(loop)
    finally:
        loop.close()


def window_sizes(bench: DriftBench) -> dict[int, int]:
    return {
        (c.window_start - START) // HOUR_MS: c.window_size
        for c in DriftRecords(bench.backends.state).checks()
    }


def expected_alarms(hour: int) -> list[DriftAlarm]:
    """The alarms the pure check gives for the same rows: the reference and the window built
    straight from the generated matrices."""
    names = tuple(f for f in FEATURES if f not in SETTINGS.excluded_features)
    columns = [FEATURES.index(n) for n in names]
    blocks = [synthetic_rows(np.random.default_rng(100 + h), REFERENCE_ROWS) for h in range(4)]
    features = np.concatenate([b[0] for b in blocks])
    scores = np.concatenate([b[1] for b in blocks])
    hours = START + np.repeat(np.arange(4), REFERENCE_ROWS) * HOUR_MS
    reference = calibrated_reference(VERSION, features[:, columns], scores, hours, BANDS, names)
    rows, window_scores = synthetic_rows(np.random.default_rng(100 + hour), WINDOW_ROWS, 3.0)
    start = START + hour * HOUR_MS
    window = WindowCounts.empty(reference, start, start + HOUR_MS).added(
        reference, rows, window_scores
    )
    return check_window(reference, window, SETTINGS.alpha)


def test_a_drifted_feature_raises_drift_events_with_exact_fields() -> None:
    bench = DriftBench()
    traffic(bench)
    run_all(bench)
    events = bench.events()
    assert [(e["window_start"], e["monitor"], e["feature"]) for e in events] == [
        (START + hour * HOUR_MS, "feature", feature)
        for hour in DRIFTED
        for feature in ("amount", "log_amount")
    ]
    first = events[0]
    [amount, _] = expected_alarms(10)  # the pure check of the same rows
    assert first == {
        "event_id": f"{VERSION}:feature:amount:{START + 10 * HOUR_MS}",
        "monitor": "feature",
        "feature": "amount",
        "statistic": "psi",
        "value": amount.value,
        "threshold": amount.threshold,
        "p_value": amount.p_value,
        "level": SETTINGS.alpha / 25,  # the smallest of 25 p-values (21 features, 2 bands)
        "window_start": START + 10 * HOUR_MS,
        "window_end": START + 11 * HOUR_MS,
        "reference_size": 4 * REFERENCE_ROWS,
        "window_size": WINDOW_ROWS,
        "severity": "critical",
        "model_version": VERSION,
        "detected_time": START + 13 * HOUR_MS,  # the clock when the hour closed
    }
    assert amount.level == SETTINGS.alpha / 25 and amount.p_value * 100 <= amount.level
    # the same alarms are in DB4
    stored = DriftRecords(bench.backends.state).alarms()
    assert [e.to_record() for e in stored] == events


def test_a_stationary_stream_of_the_same_seeds_raises_none() -> None:
    bench = DriftBench()
    traffic(bench, drifted=False)
    run_all(bench)
    assert bench.events() == []
    assert window_sizes(bench) == dict.fromkeys(range(4, 12), WINDOW_ROWS)


def test_a_restart_keeps_the_windows_without_losing_or_doubling_a_row() -> None:
    bench = DriftBench()
    traffic(bench)
    for _ in range(2):  # three runs: two stop part-way (the first one inside the reference)
        loop = bench.loop()
        bench.drain(loop, 3000)
        assert bench.backlog(loop) > 0
        loop.close()
    run_all(bench)
    assert window_sizes(bench) == dict.fromkeys(range(4, 12), WINDOW_ROWS)
    assert len(bench.events()) == 4


def test_a_crash_between_the_commit_and_the_state_write_is_repaired_once() -> None:
    bench = DriftBench()
    traffic(bench)
    loop = bench.loop()
    bench.drain(loop, 2000)
    bench.store.faults.fail_next_write(RuntimeError("the process died"))
    with pytest.raises(RuntimeError, match="the process died"):
        bench.drain(loop, 1)
    loop._close_clients()  # the crashed process leaves without settling anything
    run_all(bench)  # the next one repairs the lost write from the topic, then carries on
    assert window_sizes(bench) == dict.fromkeys(range(4, 12), WINDOW_ROWS)
    assert len(bench.events()) == 4


def test_the_policy_turns_a_lasting_drift_into_exactly_one_retrain_request() -> None:
    bench = DriftBench()
    traffic(bench)
    run_all(bench)
    [request] = requests_since(bench.backends.state, 0)
    assert (request.actor, request.request_id) == (
        "drift",
        f"drift-{VERSION}-{START + 10 * HOUR_MS}",
    )
    assert request.reason.startswith(
        f"critical feature drift on amount (psi {expected_alarms(10)[0].value:.3g} > "
    )
    assert request.reason.endswith(f"in {VERSION} window 2023-11-15T08:00Z")


def test_without_a_qualifying_feature_the_policy_asks_for_nothing() -> None:
    bench = DriftBench(SETTINGS.model_copy(update={"retrain_features": ("channel",)}))
    traffic(bench)
    run_all(bench)
    assert len(bench.events()) == 4
    assert requests_since(bench.backends.state, 0) == []


def test_rows_of_an_hour_already_checked_are_late_and_not_counted() -> None:
    bench = DriftBench()
    traffic(bench)
    run_all(bench)
    bench.rows(5, 40, seed=7)
    run_all(bench)
    assert window_sizes(bench)[5] == WINDOW_ROWS
    assert sum(o.late for o in bench.outcomes) == 40


def test_a_new_model_version_gets_its_own_reference() -> None:
    bench = DriftBench(DriftSettings(warmup_hours=0, reference_hours=4, lateness_s=0))
    traffic(bench)
    run_all(bench)
    checks: list[WindowCheck] = DriftRecords(bench.backends.state).checks()
    assert {c.model_version for c in checks} == {VERSION}
    assert DriftRecords(bench.backends.state).reference(VERSION) is not None
    assert DriftRecords(bench.backends.state).reference("m-other") is None


def test_the_metrics_count_alarms_and_show_each_monitors_latest_statistic() -> None:
    bench = DriftBench()
    traffic(bench)
    run_all(bench)
    metrics = DriftMetrics()
    for outcome in bench.outcomes:
        metrics.observe(outcome)
    sample = metrics.registry.get_sample_value
    amount = {"model_version": VERSION, "monitor": "feature", "feature": "amount"}
    latest = DriftRecords(bench.backends.state).checks()[-1]
    [value] = [v for v in latest.values if v.subject == "feature[amount]"]
    assert sample("sentinel_drift_alarms_total", amount | {"severity": "critical"}) == 2
    assert sample("sentinel_drift_statistic", amount) == value.value
    assert sample("sentinel_drift_threshold", amount) == value.threshold
    assert sample("sentinel_drift_windows_checked_total", {"model_version": VERSION}) == 8
    assert sample("sentinel_drift_rows_total") == bench.produced
    assert sample("sentinel_drift_retrain_requests_total") == 1


def test_a_lost_part_of_the_write_that_checks_a_window_is_rebuilt_and_checked_once() -> None:
    bench = DriftBench()
    traffic(bench)
    bench.store.drop_next = keys.CHECKS  # that part is lost; the other partitions' parts land
    run_all(bench)
    assert len(bench.store.dropped) == 1
    assert window_sizes(bench) == dict.fromkeys(range(4, 12), WINDOW_ROWS)
    assert len(DriftRecords(bench.backends.state).checks()) == 8
    assert len(bench.events()) == 4


def last_records(bench: DriftBench) -> list[Record]:
    """The last record of every partition of decision-features (its tick)."""
    topic = bench.topics.decision_features
    tps = [TopicPartition(topic, p) for p in range(PARTITIONS)]
    ends = bench.backends.broker.admin().end_offsets(tps)
    consumer = bench.backends.broker.consumer(None)
    consumer.assign({tp: ends[tp] - 1 for tp in tps})
    found = consumer.consume(PARTITIONS, 0.05)
    consumer.close()
    return sorted(found, key=lambda r: r.partition() or 0)


def test_after_an_offset_reset_the_lead_is_a_partition_whose_rows_apply() -> None:
    bench = DriftBench()
    for hour in range(4):
        bench.rows(hour, REFERENCE_ROWS, seed=100 + hour)
    for hour in range(4, 12):
        bench.rows(hour, WINDOW_ROWS, seed=100 + hour)
    run_all(bench)
    bench.tick(13)
    records = last_records(bench)
    # partition 0's tick was applied before its offsets were reset: its mark is in DB4
    clock = {"0": str(START + 13 * HOUR_MS)}
    bench.backends.state.execute(Batch().hset(keys.NS, keys.CLOCK, clock))
    applies = np.array([r.partition() != 0 for r in records])
    step = bench.handler().handle(records, applies, emit=False)
    assert 0 not in step.state  # its write is a replay: nothing may depend on it
    written = {p: {c.key for c in batch.commands} for p, batch in step.state.items()}
    assert {keys.CHECKS, keys.VERSIONS} <= written[1]
    assert [p for p, found in written.items() if keys.VERSIONS in found] == [1]
    [summary] = step.payload.checks
    assert summary.window_start == START + 11 * HOUR_MS


def test_no_kept_reference_rows_are_left_once_the_reference_is_built() -> None:
    bench = DriftBench()
    traffic(bench)
    run_all(bench)
    assert sorted(bench.backends.state.scan(keys.NS, "drift:refrows:*")) == []
    assert window_sizes(bench) == dict.fromkeys(range(4, 12), WINDOW_ROWS)


def test_eleven_busy_partitions_close_their_hours_while_the_twelfth_is_idle() -> None:
    bench = DriftBench()
    busy = list(range(1, PARTITIONS))
    for hour in range(4):
        bench.rows(hour, REFERENCE_ROWS, seed=100 + hour, partitions=busy)
    for hour in range(4, 8):
        bench.rows(hour, WINDOW_ROWS, seed=100 + hour, partitions=busy)
    bench.tick(9, partitions=busy)
    run_all(bench)
    assert window_sizes(bench) == dict.fromkeys(range(4, 8), WINDOW_ROWS)
    marks = DriftRecords(bench.backends.state).marks()
    assert marks == dict.fromkeys(busy, START + 9 * HOUR_MS)


def test_a_partition_behind_but_not_yet_read_is_a_backlog_and_holds_the_clock() -> None:
    bench = DriftBench()
    traffic(bench)
    loop = bench.loop()
    try:
        bench.drain(loop, 1000)  # the embedded consumer reads its partitions one by one
        assert window_sizes(bench) == {}
    finally:
        loop.close()


def test_an_hour_closed_twice_keeps_each_alarm_once_with_its_first_detection() -> None:
    bench = DriftBench()
    traffic(bench)
    run_all(bench)
    # a second instance closes hours 10 and 11 again, later in event time
    state = bench.backends.state
    [blob] = state.execute(Batch().hget(keys.NS, keys.VERSIONS, VERSION))
    again = VersionProgress.decode(blob).with_(next_ms=START + 10 * HOUR_MS)
    hours = {str(START + h * HOUR_MS): float(START + h * HOUR_MS) for h in DRIFTED}
    state.execute(
        Batch()
        .hset(keys.NS, keys.VERSIONS, {VERSION: again.encode()})
        .zadd(keys.NS, keys.open_hours(VERSION), hours)
    )
    bench.tick(14)
    run_all(bench)
    stored = DriftRecords(state).alarms()
    assert len(bench.events()) == 8  # published twice: readers drop repeats by event_id
    assert [(e.window_start, e.feature, e.detected_time) for e in stored] == [
        (START + hour * HOUR_MS, feature, START + 13 * HOUR_MS)
        for hour in DRIFTED
        for feature in ("amount", "log_amount")
    ]


def test_too_few_reference_rows_make_no_reference_and_status_says_so() -> None:
    bench = DriftBench(SETTINGS.model_copy(update={"min_reference_rows": 6001}))
    traffic(bench)
    run_all(bench)
    records = DriftRecords(bench.backends.state)
    assert (records.checks(), records.reference(VERSION), bench.events()) == ([], None, [])
    assert records.progress()[VERSION].reference_size == 4 * REFERENCE_ROWS
    assert status_lines([], [], records.progress(), 6001) == [
        f"model {VERSION}: no reference: 6,000 rows in its reference hours (2023-11-14 22:00 "
        "to 2023-11-15 02:00 UTC), fewer than the 6,001 needed; its windows are not checked"
    ]


def test_rows_scored_by_rules_alone_alarm_but_ask_for_no_retrain() -> None:
    bench = DriftBench()
    for hour in range(4):
        bench.rows(hour, REFERENCE_ROWS, seed=100 + hour, version="")
    for hour in range(4, 12):
        scale = 3.0 if hour in DRIFTED else 1.0
        bench.rows(hour, WINDOW_ROWS, seed=100 + hour, amount_scale=scale, version="")
    bench.tick(13)
    run_all(bench)
    assert {e["model_version"] for e in bench.events()} == {"rules"}
    assert len(bench.events()) == 4
    assert requests_since(bench.backends.state, 0) == []


def test_the_metrics_count_an_alarm_once_when_its_lost_write_is_repaired() -> None:
    bench = DriftBench()
    traffic(bench)
    bench.store.drop_next = keys.ALARM_EVENTS  # the lead's part of an alarming window is lost
    run_all(bench)
    assert len(bench.store.dropped) == 1
    metrics = DriftMetrics()
    for outcome in bench.outcomes:
        metrics.observe(outcome)
    sample = metrics.registry.get_sample_value
    amount = {"model_version": VERSION, "monitor": "feature", "feature": "amount"}
    assert sample("sentinel_drift_alarms_total", amount | {"severity": "critical"}) == 2
    assert sample("sentinel_drift_windows_checked_total", {"model_version": VERSION}) == 8
    assert sample("sentinel_drift_rows_total") == bench.produced
    assert sample("sentinel_drift_retrain_requests_total") == 1
    assert len(bench.events()) == 4  # published once, by the batch that was committed


def test_the_gauges_of_a_version_no_longer_checked_are_removed() -> None:
    def checked(version: str, hour: int) -> DriftOutcome:
        value = MonitorValue("feature", "amount", "psi", 0.01, 0.1, False)
        window = WindowCheck(version, hour * HOUR_MS, (hour + 1) * HOUR_MS, 300, 6000, (value,))
        return DriftOutcome(checks=[window], emitted=True, lead=0, applied={0: True})

    metrics = DriftMetrics()
    metrics.observe(checked("m-old", 0))
    metrics.observe(checked("m-new", 7 * 24))  # 7 days on: m-old is still current
    metrics.observe(checked("m-new", 7 * 24 + 1))  # past 7 days: m-old's gauges go
    sample = metrics.registry.get_sample_value
    labels = {"monitor": "feature", "feature": "amount"}
    assert sample("sentinel_drift_statistic", labels | {"model_version": "m-old"}) is None
    assert sample("sentinel_drift_threshold", labels | {"model_version": "m-old"}) is None
    assert sample("sentinel_drift_statistic", labels | {"model_version": "m-new"}) == 0.01


def test_rows_kept_while_the_clock_waits_for_the_reference_are_capped() -> None:
    held = {"reference_max_rows": 1000, "idle_partition_s": 30 * 24 * 3600}
    bench = DriftBench(SETTINGS.model_copy(update=held))
    for hour in range(4):
        bench.rows(hour, REFERENCE_ROWS, seed=100 + hour, partitions=[1])
    for hour in range(4, 12):
        bench.rows(hour, WINDOW_ROWS, seed=100 + hour, partitions=[1])
    bench.rows(0, 1, seed=5, partitions=[0])  # partition 0, not idle, holds the clock
    run_all(bench)  # so the reference is not built
    state = bench.backends.state
    [blocks] = state.execute(Batch().lrange(keys.NS, keys.reference_rows(VERSION, 1), 0, -1))
    kept = np.concatenate([from_npy(blob) for blob in blocks])
    ts = kept[:, len(FEATURES) + 1]
    reference_end = START + 4 * HOUR_MS
    assert (int((ts < reference_end).sum()), int((ts >= reference_end).sum())) == (1000, 1000)
    assert state.execute(Batch().pttl(keys.NS, keys.reference_rows(VERSION, 1))) == [
        keys.WORK_TTL_MS
    ]


def test_an_earlier_first_row_moves_the_reference_while_the_clock_is_before_it() -> None:
    bench = DriftBench(SETTINGS.model_copy(update={"warmup_hours": 2}))
    bench.rows(1, 50, seed=1, partitions=[1])
    run_all(bench)  # the version starts at hour 1: reference hours 3-6
    bench.rows(0, 50, seed=2, partitions=[0])  # an earlier row: hours 2-5, clock at hour 0
    run_all(bench)
    for hour in range(2, 6):
        bench.rows(hour, REFERENCE_ROWS, seed=100 + hour)
    for hour in range(6, 10):
        bench.rows(hour, WINDOW_ROWS, seed=100 + hour)
    bench.tick(11)
    run_all(bench)
    progress = DriftRecords(bench.backends.state).progress()[VERSION]
    assert (progress.since_ms, progress.reference_start_ms, progress.reference_end_ms) == (
        START,
        START + 2 * HOUR_MS,
        START + 6 * HOUR_MS,
    )
    assert progress.reference_size == 4 * REFERENCE_ROWS
    assert window_sizes(bench) == dict.fromkeys(range(6, 10), WINDOW_ROWS)


def test_a_retired_version_whose_hours_are_all_checked_costs_a_batch_no_reads() -> None:
    def reads_of_a_later_tick(retired: bool) -> int:
        bench = DriftBench()
        traffic(bench)
        if retired:
            for hour in range(8):
                bench.rows(hour, 200, seed=300 + hour, version="m-retired")
        run_all(bench)
        bench.tick(15)
        bench.store.reads = 0
        run_all(bench)
        return bench.store.reads

    assert reads_of_a_later_tick(retired=True) == reads_of_a_later_tick(retired=False)


def test_a_capped_reference_takes_an_equal_share_of_every_hour() -> None:
    held = {"reference_max_rows": 1000, "idle_partition_s": 30 * 24 * 3600}
    bench = DriftBench(SETTINGS.model_copy(update=held))
    for hour in range(4):
        bench.rows(hour, REFERENCE_ROWS, seed=100 + hour, partitions=[1])
    bench.rows(0, 1, seed=5, partitions=[0])  # partition 0 holds the clock: nothing is built
    run_all(bench)
    state = bench.backends.state
    [blocks] = state.execute(Batch().lrange(keys.NS, keys.reference_rows(VERSION, 1), 0, -1))
    ts = np.concatenate([from_npy(blob) for blob in blocks])[:, len(FEATURES) + 1]
    hours = ((ts - START) // HOUR_MS).astype(int)
    assert np.bincount(hours).tolist() == [250, 250, 250, 250]  # 1000 / 4 reference hours


def test_a_check_summary_reads_whether_written_before_or_after_a_field_was_added() -> None:
    value = MonitorValue("psi", "amount", "psi", 0.2, 0.1, True, 0.001)
    check = WindowCheck("m-1", 0, HOUR_MS, 300, 6000, (value,))
    older = json.loads(check.encode())
    del older["values"][0]["p_value"]  # as stored before p-values were kept
    assert WindowCheck.decode(json.dumps(older)).values[0].p_value is None
    newer = json.loads(check.encode())
    newer["values"][0]["effect"] = 0.5  # a field a later version may add
    newer["hour_of_day"] = 3
    assert WindowCheck.decode(json.dumps(newer)) == check
