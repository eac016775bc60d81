"""The learner's join: labels onto logged rows, the label delay, the time-ordered split."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from stream_sentinel.clients.backends import embedded_backends
from stream_sentinel.learning.labels import SourcedLabel
from stream_sentinel.learning.learner.rows import LoggedRow
from stream_sentinel.learning.learner.store import TrainingSetStore, label_writes, row_writes
from stream_sentinel.learning.learner.trainingset import Cut, join, kept_by_sample, known_label
from stream_sentinel.logic.feature_set import LIVE_HASH
from stream_sentinel.logic.features import FEATURES
from stream_sentinel.state.base import Batch

pytestmark = pytest.mark.unit

HOUR = 3_600_000
DAY = 24 * HOUR
NOW = 100 * DAY
CUT = Cut(NOW, label_delay_ms=DAY, window_ms=28 * DAY, validation_ms=2 * DAY)


def row(tx: str, event_time: int, user: str = "u1") -> LoggedRow:
    vector = (float(event_time % 7), 1.0) + (0.0,) * (len(FEATURES) - 2)
    return LoggedRow(tx, user, event_time, event_time + 5, vector)


def lab(source: str, value: str, event_time: int, after_ms: int) -> SourcedLabel:
    return SourcedLabel(source, value, event_time, event_time + after_ms)


def test_the_cut_draws_its_lines_from_the_label_delay_back() -> None:
    assert (CUT.mature_end, CUT.validation_start, CUT.window_start) == (
        99 * DAY,
        97 * DAY,
        72 * DAY,
    )


def test_a_label_that_came_before_its_features_joins_once_the_row_arrives() -> None:
    when = 90 * DAY
    labels = {"t1": [lab("CHARGEBACK", "FRAUD", when, HOUR)]}
    before = join({}, labels, CUT)
    assert (before.counts.rows, before.counts.unmatched_labels) == (0, 1)
    after = join({"t1": row("t1", when)}, labels, CUT)
    assert (after.counts.rows, after.counts.frauds, after.counts.labelled) == (1, 1, 1)
    assert after.counts.unmatched_labels == 0


def test_rows_never_labelled_count_as_legitimate_only_once_older_than_the_label_delay() -> None:
    rows = {
        "old": row("old", CUT.mature_end - 1),  # just old enough
        "young": row("young", CUT.mature_end),  # its label may still come
        "young-fraud": row("young-fraud", NOW - HOUR),
    }
    labels = {"young-fraud": [lab("CUSTOMER", "FRAUD", NOW - HOUR, 10)]}
    found = join(rows, labels, CUT)
    assert found.validation.labels.tolist() == [0]
    assert (found.counts.unlabelled, found.counts.pending, found.counts.labelled) == (1, 2, 0)
    assert found.train.rows == 0


def test_a_label_sent_twice_counts_once() -> None:
    when = 80 * DAY
    label = lab("CHARGEBACK", "FRAUD", when, DAY)
    found = join({"t1": row("t1", when)}, {"t1": [label, label]}, CUT)
    assert (found.counts.rows, found.counts.frauds, found.train.weights.tolist()) == (1, 1, [1])


def test_conflicting_sources_are_settled_by_precedence_and_only_known_labels_count() -> None:
    when = 80 * DAY
    customer = lab("CUSTOMER", "FRAUD", when, HOUR)
    analyst = lab("ANALYST", "LEGIT", when, 2 * HOUR)
    chargeback = lab("CHARGEBACK", "FRAUD", when, 30 * DAY)  # after NOW: not known yet
    found = join({"t1": row("t1", when)}, {"t1": [customer, analyst, chargeback]}, CUT)
    assert found.train.labels.tolist() == [0]  # the analyst's verdict beats the customer
    assert found.train.label_time.tolist() == [when + 2 * HOUR]
    later = Cut(when + 31 * DAY, DAY, 60 * DAY, 2 * DAY)
    settled = join({"t1": row("t1", when)}, {"t1": [customer, analyst, chargeback]}, later)
    assert settled.train.labels.tolist() == [1]  # the chargeback is final
    revised = lab("ANALYST", "FRAUD", when, 3 * HOUR)  # an analyst revises the verdict
    assert known_label([analyst, customer, revised], NOW) == revised


def test_the_validation_part_is_the_latest_period_that_respects_the_label_delay() -> None:
    times = np.arange(60 * DAY, NOW, HOUR).tolist()
    rows = {f"t{i}": row(f"t{i}", t) for i, t in enumerate(times)}
    found = join(rows, {}, CUT)
    validation, train = found.validation.event_time, found.train.event_time
    assert int(validation.min()) == CUT.validation_start
    assert int(validation.max()) == CUT.mature_end - HOUR
    assert int(train.min()) == CUT.window_start and int(train.max()) == CUT.validation_start - HOUR
    assert (found.validation.rows, found.train.rows) == (48, 25 * 24)
    assert found.counts.pending == 24 and found.counts.outside == 12 * 24


def test_no_row_trains_on_a_label_dated_before_it_and_validation_follows_training() -> None:
    rows = {f"t{i}": row(f"t{i}", 75 * DAY + i * 3 * HOUR, f"u{i % 5}") for i in range(180)}
    labels = {
        f"t{i}": [lab("CHARGEBACK", "FRAUD", 75 * DAY + i * 3 * HOUR, DAY)]
        for i in range(0, 180, 7)
    }
    labels["t3"] = [lab("ANALYST", "FRAUD", 75 * DAY + 9 * HOUR, -HOUR)]  # dated before the payment
    found = join(rows, labels, CUT)
    assert found.counts.leaky == 1
    for part in (found.train, found.validation):
        labelled = part.label_time >= 0
        assert bool((part.label_time[labelled] >= part.event_time[labelled]).all())
        assert bool((part.label_time[labelled] <= CUT.now_ms).all())
    assert int(found.train.event_time.max()) < int(found.validation.event_time.min())


def test_never_labelled_rows_are_sampled_by_a_stable_hash_and_weighted() -> None:
    rows = {f"t{i}": row(f"t{i}", 80 * DAY + i) for i in range(1000)}
    rows["fraud"] = row("fraud", 80 * DAY + 2000)
    labels = {"fraud": [lab("CHARGEBACK", "FRAUD", 80 * DAY + 2000, DAY)]}
    found = join(rows, labels, CUT, keep_one_in=4)
    kept = sum(kept_by_sample(f"t{i}", 4) for i in range(1000))
    assert (found.counts.unlabelled, found.counts.sampled_out) == (kept, 1000 - kept)
    assert sorted(set(found.train.weights.tolist())) == [1, 4]
    assert found.train.expanded().rows == 4 * kept + 1
    assert (
        join(rows, labels, CUT, keep_one_in=4).train.labels.tolist() == found.train.labels.tolist()
    )


def test_a_row_round_trips_through_its_packed_bytes() -> None:
    logged = LoggedRow("t1", "user-é", 5, 9, (float("nan"), -1.5, 2.25))
    back = LoggedRow.unpack("t1", logged.pack())
    assert (back.user_id, back.event_time, back.decided_time) == ("user-é", 5, 9)
    assert back.feature_set_hash == LIVE_HASH
    assert np.array_equal(np.array(back.features), np.array(logged.features), equal_nan=True)


def test_the_store_keeps_a_transaction_id_holding_the_field_separator_whole() -> None:
    state = embedded_backends().state
    batch = Batch()
    row_writes(batch, row("a|b", 80 * DAY))
    label_writes(batch, "a|b", lab("ANALYST", "FRAUD", 80 * DAY, HOUR))
    state.execute(batch)
    rows, labels = TrainingSetStore(state).snapshot(79 * DAY, 81 * DAY)
    assert (list(rows), list(labels)) == (["a|b"], ["a|b"])


def test_a_label_known_before_the_decision_is_leaky_even_after_the_event() -> None:
    when = 80 * DAY  # row() decides 5 ms after the event
    between = lab("ANALYST", "FRAUD", when, 3)
    after = lab("ANALYST", "FRAUD", when, 5)
    assert join({"t1": row("t1", when)}, {"t1": [between]}, CUT).counts.leaky == 1
    found = join({"t1": row("t1", when)}, {"t1": [after]}, CUT)
    assert (found.counts.leaky, found.counts.frauds) == (0, 1)


def test_rows_of_another_feature_set_or_a_ragged_vector_are_counted_and_left_out() -> None:
    when = 80 * DAY
    rows = {
        "live": row("live", when),
        "old-set": replace(row("old-set", when + 1), feature_set_hash="0123456789abcdef"),
        "ragged": replace(row("ragged", when + 2), features=(1.0, 2.0)),
    }
    back = LoggedRow.unpack("old-set", rows["old-set"].pack())
    assert back.feature_set_hash == "0123456789abcdef"
    found = join(rows, {}, CUT)
    assert (found.counts.rows, found.counts.other_feature_set) == (1, 2)
    assert found.train.features.shape == (1, len(FEATURES))
