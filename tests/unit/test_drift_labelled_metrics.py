"""The labelled performance monitors' Prometheus metrics: labels read and late, decisions fed
by kind, the settled mark, alarms; counted once when a lost write is repaired."""

from __future__ import annotations

from collections import Counter

import pytest

from stream_sentinel.learning.drift import keys
from stream_sentinel.learning.drift.metrics import DriftMetrics
from tests.unit.drift_support import START, VERSION
from tests.unit.test_drift_labelled import (
    LABEL_PARTITIONS,
    Decided,
    PerfBench,
    _changed_traffic,
    settle,
)

pytestmark = pytest.mark.unit

NAMES = (
    "sentinel_drift_labels_total",
    "sentinel_drift_late_labels_total",
    "sentinel_drift_unjoined_labels_total",
    "sentinel_drift_retrain_requests_total",
    "sentinel_drift_settled_until_seconds",
)
KINDS = ("fed", "wrong", "alerted", "alerted_fraud")


def observed(bench: PerfBench) -> DriftMetrics:
    metrics = DriftMetrics()
    for outcome in bench.labelled:
        metrics(outcome)
    return metrics


def samples(metrics: DriftMetrics, bench: PerfBench) -> dict[str, float | None]:
    sample = metrics.registry.get_sample_value
    found = {name: sample(name) for name in NAMES}
    for kind in KINDS:
        found[kind] = sample("sentinel_drift_labelled_decisions_total", {"kind": kind})
    events = Counter((e["monitor"], e["severity"]) for e in bench.perf_events())
    for monitor, severity in events:
        labels = {"model_version": VERSION, "monitor": monitor, "feature": ""}
        found[f"{monitor}:{severity}"] = sample(
            "sentinel_drift_alarms_total", labels | {"severity": severity}
        )
    return found


def test_the_metrics_count_labels_decisions_fed_by_kind_and_the_settled_hour() -> None:
    bench = PerfBench()
    hour: list[Decided] = []
    for i in range(40):  # 8 flagged: 5 fraud, 3 legit; 4 missed frauds; 20 legit; 8 unlabelled
        flagged, label = i < 8, "FRAUD" if i < 5 or 8 <= i < 12 else "LEGIT"
        hour.append(Decided(f"a-{i}", START + 60_000 * i, flagged, None if i >= 32 else label))
    bench.decide(hour)
    bench.label(hour)
    bench.label([Decided("no-decision", START + 1000, False, "FRAUD")])
    settle(bench, 0)
    bench.run_all()
    assert samples(observed(bench), bench) == {
        # 32 labels, the stray one, and a clock label per partition (late: 3 h after)
        "sentinel_drift_labels_total": 33 + LABEL_PARTITIONS,
        "sentinel_drift_late_labels_total": LABEL_PARTITIONS,
        "sentinel_drift_unjoined_labels_total": 1,
        "sentinel_drift_retrain_requests_total": 0,
        "sentinel_drift_settled_until_seconds": START // 1000 + 3600,
        "fed": 32,
        "wrong": 7,  # 3 flagged legit, 4 missed frauds
        "alerted": 8,
        "alerted_fraud": 5,
    }


def test_the_metrics_count_the_alarms_and_a_repaired_lost_write_once() -> None:
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
    expected = samples(observed(once), once)
    assert expected["fed"] == 16 * 200
    assert expected["adwin-error:critical"] == 1
    assert expected["sentinel_drift_retrain_requests_total"] == 1
    assert expected["sentinel_drift_settled_until_seconds"] == START // 1000 + 16 * 3600
    assert samples(observed(bench), bench) == expected


def lost_once(key: str) -> tuple[PerfBench, PerfBench]:
    """The changed traffic run straight through, and again with the first write of ``key`` by
    one partition lost after its batch committed (the loop rebuilds that partition)."""
    once = PerfBench()
    _changed_traffic(once)
    once.run_all()
    bench = PerfBench()
    _changed_traffic(bench)
    bench.store.drop_next = key
    bench.run_all()
    assert len(bench.store.dropped) == 1
    return once, bench


def test_a_label_partitions_lost_write_counts_its_labels_once() -> None:
    once, bench = lost_once(keys.PERF_LABEL_CLOCK)  # every label partition's write sets it
    assert any(False in o.applied.values() for o in bench.labelled)
    assert samples(observed(bench), bench) == samples(observed(once), once)


def test_a_lost_settlement_counts_its_decisions_and_requests_once() -> None:
    once, bench = lost_once(keys.PERF_MONITORS)  # the lead's write of a settlement that fed
    [lost] = [o for o in bench.labelled if o.lead is not None and not o.applied.get(o.lead, True)]
    assert sum(t[0] for t in lost.fed.values()) > 0  # it had settled decisions
    assert samples(observed(bench), bench) == samples(observed(once), once)


def test_an_alarm_whose_settlement_is_lost_after_publishing_is_counted_once() -> None:
    once, bench = lost_once(keys.ALARM_EVENTS)  # the lead's write storing the alarm
    [lost] = [o for o in bench.labelled if o.events and not o.applied.get(o.lead or 0, True)]
    assert lost.emitted  # published with the commit, then redone by a later batch
    ids = Counter(e["event_id"] for e in bench.perf_events())
    adwin = f"{VERSION}:adwin-error:-:{START + 10 * 3_600_000}"
    assert ids == {adwin: 2, f"{VERSION}:page-hinkley-error:-:{START + 11 * 3_600_000}": 1}
    found = samples(observed(bench), bench)  # the same event, published twice, counted once
    assert found["adwin-error:critical"] == 1
    assert found == samples(observed(once), once)
