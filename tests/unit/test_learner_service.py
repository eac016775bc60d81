"""The learner on the embedded backends: logged rows and labels in, a registered candidate out,
and a training set that survives restarts without counting a label twice."""

from __future__ import annotations

import random
from typing import Any

import pytest

from stream_sentinel.clients.backends import Backends, embedded_backends
from stream_sentinel.learning import keys
from stream_sentinel.learning.learner.retrain import Retrainer
from stream_sentinel.learning.learner.status import read_status
from stream_sentinel.learning.learner.store import TrainingSetStore
from stream_sentinel.learning.learner.trainingset import kept_by_sample
from stream_sentinel.learning.retrain_requests import request_retrain
from stream_sentinel.state.base import Batch
from stream_sentinel.state.memory_faults import FaultyStateStore
from stream_sentinel.transport.base import TopicPartition
from tests.unit.learner_support import DAY, HOUR, SETTINGS, Rig, Traffic, traffic

pytestmark = pytest.mark.unit


def expected_counts(sent: Traffic, settings: Any = SETTINGS) -> dict[str, int]:
    """What the training set must hold, computed from what was sent (each row and label once)."""
    now = max(r["event_time"] for r in sent.rows)
    mature_end = now - settings.label_delay_ms
    labelled = {lab["transaction_id"] for lab in sent.labels if lab["label_time"] <= now}
    usable = [r for r in sent.rows if r["event_time"] < mature_end]
    return {
        "rows": len(usable),
        "frauds": sum(r["transaction_id"] in sent.frauds for r in usable),
        "labelled": sum(r["transaction_id"] in labelled for r in usable),
        "pending": len(sent.rows) - len(usable),
    }


def counts_of(rig: Rig) -> dict[str, int]:
    found = read_status(rig.backends.state)["training_set"]
    return {k: found[k] for k in ("rows", "frauds", "labelled", "pending")}


def run_once(rig: Rig, settings: Any = SETTINGS) -> Any:
    learner = rig.learner(settings)
    learner.start()
    learner.run(lambda: False, idle_s=0.0)
    learner.close()
    return learner


def test_a_retrain_request_registers_the_first_candidate_as_champion_with_its_metrics() -> None:
    rig, sent = Rig(), traffic(6000, 8, seed=1)
    rig.send(sent.rows, sent.labels)
    request_retrain(rig.backends.state, "weekly", "cli:ana", rig.clock)
    [outcome] = run_once(rig).outcomes
    assert outcome.trigger == "request by cli:ana: weekly"
    assert {k: outcome.counts[k] for k in ("rows", "frauds", "labelled", "pending")} == (
        expected_counts(sent)
    )
    version = rig.registry.get(outcome.version)
    metrics = version.metrics
    assert outcome.reason == (
        f"promoted: no champion yet (AP {metrics['average_precision']:.4f}, ROC AUC "
        f"{metrics['roc_auc']:.4f}, band alert rates within targets)"
    )
    assert rig.registry.aliases() == {"champion": version.version}
    [move] = rig.registry.history()
    assert (move.alias, move.actor, move.reason, move.previous) == (
        "champion",
        "learn",
        outcome.reason,
        None,
    )
    assert (version.created_by, version.parent, version.tags["trigger"]) == (
        "learn",
        None,
        "request by cli:ana: weekly",
    )
    # validation is 2023-11-19 23:58 .. 2023-11-21 23:58: only the 20th is a whole UTC day
    assert sorted(metrics["card_precision_at_100_daily"]) == ["2023-11-20"]
    assert metrics["card_precision_at_100"] == metrics["card_precision_at_100_daily"]["2023-11-20"]
    assert metrics["card_precision_at_100_days"] == (
        "whole UTC days of the validation window (partial days left out)"
    )
    assert sorted(metrics["bands"]) == ["CRITICAL", "HIGH", "LOW", "MEDIUM"]
    assert metrics["validation_rows"] == outcome.counts["rows"] - version.window.rows
    assert version.window.validation_end_ms < max(r["event_time"] for r in sent.rows) - DAY
    events = rig.backends.broker.consumer(None)
    events.assign({TopicPartition(rig.topics.model_events, 0): 0})
    assert len(events.consume(10, 0.01)) == 1  # detectors hear of the move


def test_under_the_never_policy_the_candidate_is_only_challenger() -> None:
    rig, sent = Rig(), traffic(6000, 8, seed=2)
    rig.send(sent.rows, sent.labels)
    request_retrain(rig.backends.state, "try", "cli:ana", rig.clock)
    [outcome] = run_once(rig, SETTINGS.model_copy(update={"promotion": "never"})).outcomes
    m = outcome.metrics
    assert outcome.reason == (
        "kept as challenger: the promotion policy is 'never' "
        f"(AP {m['average_precision']:.4f}, ROC AUC {m['roc_auc']:.4f})"
    )
    assert rig.registry.aliases() == {"challenger": outcome.version}


def test_with_auto_promotion_the_champion_moves_to_a_better_retrain_with_its_reason() -> None:
    rig, first = Rig(), traffic(6000, 8, seed=3)
    rig.send(first.rows, first.labels)
    request_retrain(rig.backends.state, "first", "cli:ana", rig.clock)
    [old] = run_once(rig).outcomes
    later = traffic(6000, 8, seed=4)
    shift = 8 * DAY
    for record in later.rows + later.labels:
        record["event_time"] += shift
    for label in later.labels:
        label["label_time"] += shift
    rig.send(later.rows, later.labels)
    rig.clock.advance(1.0)
    request_retrain(rig.backends.state, "second", "cli:ana", rig.clock)
    loose = SETTINGS.model_copy(update={"ap_tolerance": 1.0, "auc_tolerance": 1.0})
    [new] = run_once(rig, loose).outcomes
    version = rig.registry.get(new.version)
    theirs = version.metrics["champion"]
    assert (version.parent, theirs["version"]) == (old.version, old.version)
    assert new.reason == (
        f"promoted: AP {version.metrics['average_precision']:.4f} vs "
        f"{theirs['average_precision']:.4f} and ROC AUC {version.metrics['roc_auc']:.4f} vs "
        f"{theirs['roc_auc']:.4f} of champion {old.version} on the same validation window, "
        "band alert rates within targets"
    )
    latest = rig.registry.history("champion")[0]
    assert (latest.version, latest.previous, latest.actor, latest.reason) == (
        new.version,
        old.version,
        "learn",
        new.reason,
    )


def test_a_restart_keeps_the_training_set_and_never_counts_a_label_twice() -> None:
    rig, sent = Rig(), traffic(4000, 8, seed=5)
    half = len(sent.rows) // 2
    rig.send(sent.rows[:half], sent.labels[: len(sent.labels) // 2])
    first = run_once(rig)
    rig.send(sent.rows[half:], sent.labels[len(sent.labels) // 2 :])
    rig.send([], sent.labels[:50])  # re-delivered labels
    second = run_once(rig)
    assert [loop.stats.records for loop in first.loops] == [half, len(sent.labels) // 2]
    assert [loop.stats.records for loop in second.loops] == [
        len(sent.rows) - half,
        len(sent.labels) - len(sent.labels) // 2 + 50,
    ]
    assert counts_of(rig) == expected_counts(sent)
    third = run_once(rig)  # nothing new: nothing read, nothing changed
    assert [loop.stats.records for loop in third.loops] == [0, 0]
    assert counts_of(rig) == expected_counts(sent)


def test_labels_read_before_their_features_join_once_the_features_arrive() -> None:
    rig, sent = Rig(), traffic(3000, 8, seed=6)
    rig.send([], sent.labels)
    run_once(rig)
    assert read_status(rig.backends.state)["event_time_ms"] is None  # no rows yet
    rig.send(sent.rows, [])
    run_once(rig)
    assert counts_of(rig) == expected_counts(sent)
    assert read_status(rig.backends.state)["training_set"]["unmatched_labels"] == 0


def test_retrains_follow_the_event_time_schedule_once_caught_up() -> None:
    every = SETTINGS.model_copy(update={"retrain_every_ms": 3 * DAY})
    rig, sent = Rig(), traffic(6000, 8, seed=7)
    rig.send(sent.rows, sent.labels)
    assert run_once(rig, every).outcomes == []  # the schedule starts where it caught up
    later = traffic(3000, 4, seed=8)
    for record in later.rows + later.labels:
        record["event_time"] += 8 * DAY
    for label in later.labels:
        label["label_time"] += 8 * DAY
    rig.send(later.rows, later.labels)
    [outcome] = run_once(rig, every).outcomes
    assert outcome.trigger == "schedule (every 72h of event time)"
    assert outcome.event_time_ms == max(r["event_time"] for r in later.rows)
    status = read_status(rig.backends.state)
    assert status["next_retrain_ms"] == outcome.event_time_ms + 3 * DAY
    assert status["last_decision"]["reason"] == outcome.reason


def test_a_retrain_without_enough_labelled_rows_is_skipped_with_its_reason() -> None:
    rig, sent = Rig(), traffic(300, 8, seed=9, fraud_share=0.0)
    rig.send(sent.rows, sent.labels)
    request_retrain(rig.backends.state, "now", "drift", rig.clock)
    [outcome] = run_once(rig).outcomes
    validation = outcome.counts["rows"] - 0
    assert outcome.version is None and rig.registry.aliases() == {}
    assert outcome.reason.startswith("skipped: not enough labelled rows: training ")
    assert outcome.reason.endswith(
        "(need >= 100 rows and >= 5 frauds to train, >= 1 frauds and a legitimate row to validate)"
    )
    assert validation == expected_counts(sent)["rows"]


def test_a_retrain_compacts_mature_never_labelled_rows_to_the_sample_and_weights_them() -> None:
    sampled = SETTINGS.model_copy(update={"legit_keep_one_in": 4})
    rig, sent = Rig(), traffic(6000, 8, seed=10)
    rig.send(sent.rows, sent.labels)
    assert run_once(rig, sampled).outcomes == []  # read everything, no retrain yet
    before = read_status(rig.backends.state)["training_set"]
    request_retrain(rig.backends.state, "compact", "cli:ana", rig.clock)
    [outcome] = run_once(rig, sampled).outcomes
    after = read_status(rig.backends.state)["training_set"]
    now = max(r["event_time"] for r in sent.rows)
    hours_end = (now - DAY) // HOUR * HOUR
    labelled = {lab["transaction_id"] for lab in sent.labels}
    dropped = [
        r
        for r in sent.rows
        if r["event_time"] < hours_end
        and r["transaction_id"] not in labelled
        and not kept_by_sample(r["transaction_id"], 4)
    ]
    rows, _ = TrainingSetStore(rig.backends.state).snapshot(0, now + 1)
    assert len(rows) == len(sent.rows) - len(dropped)
    assert before["sampled_out"] - after["sampled_out"] == len(dropped)
    same = ("rows", "frauds", "labelled", "unlabelled", "pending")
    assert {k: after[k] for k in same} == {k: before[k] for k in same}
    assert outcome.counts["unlabelled"] == before["unlabelled"]


def test_a_crash_between_the_kafka_commit_and_the_state_write_is_repaired_once() -> None:
    plain = embedded_backends()
    faulty = FaultyStateStore(plain.state)
    rig, sent = Rig(Backends(plain.kind, plain.broker, faulty)), traffic(3000, 8, seed=11)
    rig.send(sent.rows, sent.labels)
    learner = rig.learner()
    learner.start()
    faulty.faults.fail_next_write(ConnectionError("redis went away"))
    with pytest.raises(ConnectionError, match="redis went away"):
        learner.run(lambda: False, idle_s=0.0)  # the batch's offsets are committed, its rows not
    for loop in learner.loops:  # the process died: its members leave, nothing is settled
        assert loop.consumer is not None
        loop.consumer.close()
    again = run_once(rig)
    assert sum(loop.stats.repaired for loop in again.loops) > 0
    assert counts_of(rig) == expected_counts(sent)
    assert sum(loop.stats.records for loop in again.loops) + sum(
        loop.stats.records for loop in learner.loops
    ) == len(sent.rows) + len(sent.labels)


def test_a_retrain_drops_the_hours_older_than_the_window() -> None:
    short = SETTINGS.model_copy(update={"window_ms": 5 * DAY})
    rig, sent = Rig(), traffic(6000, 8, seed=12)
    rig.send(sent.rows, sent.labels)
    request_retrain(rig.backends.state, "evict", "cli:ana", rig.clock)
    [outcome] = run_once(rig, short).outcomes
    start = outcome.event_time_ms - 5 * DAY
    rows, labels = TrainingSetStore(rig.backends.state).snapshot(0, outcome.event_time_ms + 1)
    kept_from = start // HOUR * HOUR  # the hour holding the window's start stays whole
    in_window = {r["transaction_id"] for r in sent.rows if r["event_time"] >= start}
    assert in_window <= set(rows)
    assert min(row.event_time for row in rows.values()) >= kept_from
    assert min(label.event_time for found in labels.values() for label in found) >= kept_from
    # of the hour holding the window's start, the rows older than the start are left out
    assert outcome.counts["outside"] == len(rows) - len(in_window)


def later_traffic(seed: int, shift: int = 8 * DAY, count: int = 6000) -> Traffic:
    later = traffic(count, 8, seed=seed)
    for record in later.rows + later.labels:
        record["event_time"] += shift
    for label in later.labels:
        label["label_time"] += shift
    return later


def test_a_champion_that_cannot_be_loaded_is_compared_with_never_replaced_unseen() -> None:
    rig, first = Rig(), traffic(6000, 8, seed=13)
    rig.send(first.rows, first.labels)
    request_retrain(rig.backends.state, "first", "cli:ana", rig.clock)
    [old] = run_once(rig).outcomes
    ref = rig.registry.get(old.version).artifact
    rig.backends.state.execute(Batch().set(keys.MODELS, keys.chunk(ref.chunks[0]), b"garbage"))
    later = later_traffic(seed=14)
    rig.send(later.rows, later.labels)
    rig.clock.advance(1.0)
    request_retrain(rig.backends.state, "second", "cli:ana", rig.clock)
    [new] = run_once(rig).outcomes
    assert new.alias == "challenger"
    assert new.reason.startswith(
        f"kept as challenger: cannot compare with champion {old.version}: "
    )
    assert rig.registry.get(new.version).parent == old.version
    assert rig.registry.aliases() == {"champion": old.version, "challenger": new.version}


def test_bands_chosen_on_the_latest_traffic_keep_a_shifted_candidate_challenger() -> None:
    rig, sent = Rig(), traffic(6000, 8, seed=15)
    now = max(r["event_time"] for r in sent.rows)
    rng = random.Random(15)
    for row in sent.rows:  # the latest day (pending) carries no fraud signal: scores shifted
        if row["event_time"] >= now - DAY:
            row["features"][:3] = [rng.gauss(0.0, 1.0) for _ in range(3)]
    rig.send(sent.rows, sent.labels)
    request_retrain(rig.backends.state, "shifted", "cli:ana", rig.clock)
    [outcome] = run_once(rig).outcomes
    metrics = rig.registry.get(outcome.version).metrics
    rate = metrics["bands"]["CRITICAL"]["alert_rate"]
    assert (outcome.alias, outcome.reason) == (
        "challenger",
        f"kept as challenger: band CRITICAL alerts on {rate:.2%} of the validation window, "
        "above its target 1.00% (+50% allowed)",
    )
    assert metrics["bands_chosen_on"] == {
        "part": "pending",
        "rows": expected_counts(sent)["pending"],
    }


def test_a_first_start_on_a_long_retention_keeps_only_the_window() -> None:
    short = SETTINGS.model_copy(update={"window_ms": 3 * DAY, "validation_ms": DAY})
    rig, recent = Rig(), later_traffic(seed=16, shift=8 * DAY, count=2000)
    rig.send(recent.rows, recent.labels)
    assert run_once(rig, short).outcomes == []
    now = max(r["event_time"] for r in recent.rows)
    hours = TrainingSetStore(rig.backends.state).hours()
    assert min(hours) == (now - 3 * DAY) // HOUR  # read 8 days, held 3 (and the boundary hour)
    old = traffic(3000, 8, seed=17)  # older than the window: rows and labels skipped at intake
    rig.send(old.rows, old.labels)
    learner = run_once(rig, short)
    assert learner.read_counts() == (0, 0, len(old.rows) + len(old.labels), 0)
    assert TrainingSetStore(rig.backends.state).hours() == hours  # no evicted hour came back


@pytest.mark.parametrize("later_by", [8 * DAY, 30 * DAY], ids=["within", "past-the-window"])
def test_a_retrain_that_crashed_after_its_alias_move_is_redone_at_its_time_moving_nothing(
    monkeypatch: pytest.MonkeyPatch, later_by: int
) -> None:
    rig, sent = Rig(), traffic(6000, 8, seed=18)
    rig.send(sent.rows, sent.labels)
    request_retrain(rig.backends.state, "first", "cli:ana", rig.clock)
    moved = Retrainer.retrain

    def crash_after_the_move(self: Retrainer, now_ms: int, trigger: str) -> Any:
        moved(self, now_ms, trigger)
        raise ConnectionError("died before the status was written")

    monkeypatch.setattr(Retrainer, "retrain", crash_after_the_move)
    crashed = rig.learner()
    crashed.start()
    with pytest.raises(ConnectionError, match="died before the status"):
        crashed.run(lambda: False, idle_s=0.0)
    for loop in crashed.loops:
        assert loop.consumer is not None
        loop.consumer.close()
    monkeypatch.setattr(Retrainer, "retrain", moved)
    [champion] = rig.registry.aliases().values()
    later = later_traffic(seed=19, shift=later_by, count=500)  # read before the redo
    rig.send(later.rows, later.labels)
    [redo] = run_once(rig).outcomes
    assert (redo.event_time_ms, redo.trigger) == (
        max(r["event_time"] for r in sent.rows),
        "request by cli:ana: first",
    )
    assert (redo.version, redo.reason) == (champion, f"unchanged: {champion} is already champion")
    assert len(rig.registry.history()) == 1
    assert TrainingSetStore(rig.backends.state).status()["intent"] is None


def test_a_request_stamped_earlier_than_the_last_acted_on_is_still_acted_on() -> None:
    rig, sent = Rig(), traffic(3000, 8, seed=20)
    rig.send(sent.rows, sent.labels)
    request_retrain(rig.backends.state, "first", "cli:ana", rig.clock)
    [first] = run_once(rig).outcomes
    rig.clock.advance(-60.0)  # another host, its clock a minute behind
    request_retrain(rig.backends.state, "from a slow clock", "drift", rig.clock)
    [second] = run_once(rig).outcomes
    assert (first.trigger, second.trigger) == (
        "request by cli:ana: first",
        "request by drift: from a slow clock",
    )
    assert run_once(rig).outcomes == []  # acted on once


def test_every_retrain_decision_is_kept_in_the_history_skips_and_unchanged_included() -> None:
    rig, sent = Rig(), traffic(6000, 8, seed=21)
    rig.send(sent.rows[:300], [])
    request_retrain(rig.backends.state, "too early", "cli:ana", rig.clock)
    [skipped] = run_once(rig).outcomes
    rig.send(sent.rows[300:], sent.labels)
    rig.clock.advance(1.0)
    request_retrain(rig.backends.state, "now", "cli:ana", rig.clock)
    [promoted] = run_once(rig).outcomes
    rig.clock.advance(1.0)
    request_retrain(rig.backends.state, "again", "cli:ana", rig.clock)
    [unchanged] = run_once(rig).outcomes
    assert skipped.reason.startswith("skipped: not enough labelled rows")
    assert unchanged.reason == f"unchanged: {promoted.version} is already champion"
    found = read_status(rig.backends.state)["decisions"]
    assert found == [o.to_json() for o in (unchanged, promoted, skipped)]
