"""The experiments service under faults and races: a crash between the Kafka commit and the
Redis write, an aborted commit, a backlog read unevenly, an experiment started or stopped
while it runs, one ended while it was down."""

from __future__ import annotations

import pytest

from stream_sentinel.config import load_settings
from stream_sentinel.learning.experiments.judge import Judge
from stream_sentinel.learning.experiments.service import experiment_service
from stream_sentinel.state.memory_faults import FaultyStateStore
from stream_sentinel.transport.memory_faults import FaultyBroker
from stream_sentinel.transport.partitioner import partition_for
from tests.unit.experiments_support import (
    DAY,
    FLAGGED,
    HOUR,
    QUIET,
    START,
    Lab,
    drain,
    label,
    user_in,
)
from tests.unit.test_experiments_service import EXPECTED, shadow_traffic

pytestmark = pytest.mark.unit
AT = START + HOUR


def _service(lab: Lab, *, state=None, broker=None, settings=None):  # type: ignore[no-untyped-def]
    rig = lab.rig
    return experiment_service(
        settings or lab.settings,
        broker or rig.backends.broker,
        state or rig.backends.state,
        rig.serde,
        rig.registry,
        clock=rig.clock,
        poll_timeout_s=0.01,
        grace_s=0.0,
    )


def test_a_labels_batch_committed_to_kafka_but_not_redis_is_repaired_on_restart() -> None:
    """Kafka committed, the process died before Redis was written: the reconciler re-handles
    the records as a repair (emit=False), which makes the same writes."""
    lab = Lab()
    experiment = lab.start()
    rows, labels = shadow_traffic(lab)
    lab.rig.send(rows, labels)
    faulty = FaultyStateStore(lab.rig.backends.state)
    faulty.faults.fail_next_write(SystemExit("killed before the Redis write"))
    first = _service(lab, state=faulty)
    first.start()
    with pytest.raises(SystemExit):
        drain(first)  # the first batch written (the labels'): in Kafka, never in Redis
    first.close()
    second = _service(lab)
    second.start()
    drain(second)
    second.close()
    assert lab.store.counts(experiment.id) == EXPECTED


def test_a_decisions_batch_committed_to_kafka_but_not_redis_is_repaired_on_restart() -> None:
    lab = Lab()
    experiment = lab.start()
    rows, labels = shadow_traffic(lab)
    lab.rig.send(rows, labels)
    faulty = FaultyStateStore(lab.rig.backends.state)
    first = _service(lab, state=faulty)
    first.start()
    while not first.loops[1].stats.batches:  # the labels are in Redis
        first.step()
    lab.rig.send([lab.row("more", AT, FLAGGED, FLAGGED)], [])
    faulty.faults.fail_next_write(SystemExit("killed before the Redis write"))
    with pytest.raises(SystemExit):
        drain(first)  # the decisions batch of "more": committed to Kafka, not to Redis
    first.close()
    second = _service(lab)
    second.start()
    drain(second)
    second.close()
    counts = lab.store.counts(experiment.id)
    assert (counts.get("0:rows"), counts.get("0:alerts")) == (9.0, 4.0)


def test_an_aborted_batch_does_not_move_the_clock_so_its_bucket_waits_for_it() -> None:
    """The commit of a batch aborts: the event clock stays where it was (it moves only once a
    batch's write applied), so the batch's bucket is not settled before the batch is read
    again."""
    lab = Lab()
    experiment = lab.start()
    broker = FaultyBroker(lab.rig.backends.broker)
    service = _service(lab, broker=broker)
    service.start()
    lab.rig.send([], [label("caught", AT)])
    while not service.loops[1].stats.batches:  # the label is kept
        service.step()
    rows = [lab.row("caught", AT, FLAGGED, QUIET), lab.row("clock", AT + 2 * DAY, QUIET, QUIET)]
    lab.rig.send(rows, [])
    broker.faults.abort_next_commit("the broker said no")  # the decisions batch's commit
    drain(service)
    service.close()
    assert service.loops[0].stats.aborted == 1
    counts = lab.store.counts(experiment.id)
    # the champion flagged the fraud: it must count as caught by the champion
    assert (counts.get("0:caught"), counts.get("pair:sum")) == (1.0, -1.0)


def _on(partition: int, prefix: str) -> str:
    """A transaction id whose user (u-{tx}) lands on ``partition`` of decision-features."""
    n = 0
    while partition_for(f"u-{prefix}{n}".encode(), 12) != partition:
        n += 1
    return f"{prefix}{n}"


def test_nothing_settles_while_a_partition_still_has_unread_rows() -> None:
    """Both rows are on the topic before the service starts and the clock row's partition is
    read first: nothing is settled until every partition is read to its end, so the fraud
    both models caught counts as caught."""
    settings = load_settings(
        environ={
            "SENTINEL_EXPERIMENTS_LABEL_DEADLINE_DAYS": "1",
            "SENTINEL_DETECTOR_MAX_BATCH": "1",
        }
    )
    lab = Lab(settings)
    experiment = lab.start()
    clock_tx, fraud_tx = _on(0, "clock"), _on(5, "fraud")
    rows = [lab.row(clock_tx, AT + 2 * DAY, QUIET, QUIET), lab.row(fraud_tx, AT, FLAGGED, FLAGGED)]
    lab.rig.send(rows, [label(fraud_tx, AT)])
    service = _service(lab, settings=settings)
    service.start()
    drain(service, quiet_steps=5)
    service.close()
    counts = lab.store.counts(experiment.id)
    assert (counts.get("0:caught"), counts.get("1:caught")) == (1.0, 1.0)


def test_rows_of_an_experiment_started_while_the_service_runs_count_at_once() -> None:
    """A row naming an experiment the service has not read yet makes it read the running one
    at once, so the new experiment's first rows count."""
    lab = Lab()
    service = _service(lab)
    service.start()
    drain(service)  # no experiment yet
    experiment = lab.start()
    lab.rig.send([lab.row("caught", AT, FLAGGED, FLAGGED)], [])
    drain(service)
    lab.rig.clock.advance(10.0)  # past check_s: the experiment is read now
    lab.rig.send([lab.row("clock", AT + 2 * DAY, QUIET, QUIET)], [label("caught", AT)])
    drain(service)
    service.close()
    counts = lab.store.counts(experiment.id)
    # both models flagged "caught": its fraud must not count as missed by both
    assert (counts.get("0:caught"), counts.get("1:caught")) == (1.0, 1.0)
    assert counts.get("0:rows") == 2.0  # "caught" and "clock"


def test_an_experiment_an_operator_stopped_meanwhile_moves_no_alias() -> None:
    """An operator stopped the experiment after the service last read it: the judge reads it
    again before moving an alias, and promotes nothing."""
    from tests.unit.experiments_support import settings_of

    lab = Lab(settings_of(min_labels="10", promotion="automatic", guard_min_rows="100000"))
    experiment = lab.start()
    counts = {"pair:n": 30, "pair:sum": 30, "pair:squares": 30, "0:frauds": 30, "1:frauds": 30}
    lab.store.add_counts(experiment.id, "test:0", 1, counts | {"1:caught": 30})
    lab.store.end(experiment.id, "stopped", "stopped by cli:ana: wrong data", "cli:ana")
    judge = Judge(lab.store, lab.rig.registry, lab.settings.experiments, lab.rig.clock)
    assert judge.judge(experiment) is None  # the stale copy the service still holds
    assert lab.rig.registry.aliases()["champion"] == lab.champion_id


def test_a_split_arm_0_row_the_champion_did_not_score_is_left_out() -> None:
    lab = Lab()
    experiment = lab.start("split", 0.5)
    rows = [
        lab.row("rules-only", AT, None, None, arm=0, user=user_in(0)),  # the champion had no score
        lab.row("clock", AT + 2 * DAY, QUIET, QUIET, user=user_in(0, 1)),
    ]
    lab.rig.send(rows, [label("rules-only", AT)])
    service = _service(lab)
    service.start()
    drain(service)
    service.close()
    counts = lab.store.counts(experiment.id)
    assert counts.get("0:frauds") is None  # one arm had no say: left out, as arm 1's would be
    assert counts.get("unscored:frauds") == 1.0


def test_an_experiment_stopped_while_the_service_was_down_is_tidied_at_start() -> None:
    """An experiment that ended while no service ran (or before a crash let it tidy) has its
    kept rows and labels deleted when the next service starts."""
    from stream_sentinel.learning.experiments import keys
    from stream_sentinel.state.base import Batch

    lab = Lab()
    experiment = lab.start()
    lab.rig.send([lab.row("kept", AT, FLAGGED, QUIET)], [label("kept", AT)])
    first = _service(lab)
    first.start()
    drain(first)
    first.close()
    lab.store.end(experiment.id, "stopped", "stopped by cli:ana", "cli:ana")
    second = _service(lab)
    second.start()
    drain(second)
    lab.rig.clock.advance(3600.0)
    drain(second)
    second.close()
    bucket = AT // HOUR
    left = lab.rig.backends.state.execute(
        Batch()
        .exists(keys.NS, keys.rows(experiment.id, bucket))
        .exists(keys.NS, keys.labels(experiment.id, bucket))
        .exists(keys.NS, keys.buckets(experiment.id))
    )
    assert left == [0, 0, 0]
