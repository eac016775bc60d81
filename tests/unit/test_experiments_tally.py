"""What the experiments service keeps per decision and label, and what a settled bucket adds."""

from __future__ import annotations

import pytest

from stream_sentinel.learning.experiments.tally import (
    DEFAULT,
    UNTAGGED,
    Buckets,
    RowCode,
    bucket_width,
    effective_label,
    merge_label,
    row_code,
    settle_bucket,
)
from stream_sentinel.learning.labels import SourcedLabel
from stream_sentinel.logic.experiments.counting import Decided

pytestmark = pytest.mark.unit
HOUR, DAY = 3_600_000, 86_400_000


def test_every_row_code_survives_its_one_character() -> None:
    codes = [
        RowCode(arm, a, b, u)
        for arm in (0, 1)
        for a in (False, True)
        for b in (False, True)
        for u in (False, True)
    ]
    encoded = [c.encode() for c in codes]
    assert all(len(e) == 1 for e in encoded) and len(set(encoded)) == 16
    assert [RowCode.decode(e) for e in encoded] == codes
    assert RowCode.decode(b"3") == RowCode(1, True, False, False)


def test_only_rows_out_of_the_common_case_are_kept() -> None:
    quiet = Decided(0, False, False, False)
    assert row_code(quiet, True) == DEFAULT
    assert row_code(quiet, False) == RowCode(0, False, False, True)
    assert row_code(Decided(0, False, True, False), True) == RowCode(0, False, True, False)
    # split: a challenger's row is always kept (its arm is not the default)
    assert row_code(Decided(1, False, False, False), True) == RowCode(1, False, False, False)
    assert row_code(Decided(1, False, False, False), False).unscored
    assert RowCode(0, False, False, True) == UNTAGGED


def test_buckets_are_an_hour_or_a_24th_of_a_short_deadline_and_due_after_it() -> None:
    assert (bucket_width(60 * DAY), bucket_width(DAY // 4), bucket_width(10_000)) == (
        HOUR,
        DAY // 96,
        1000,
    )
    buckets = Buckets(DAY)
    assert buckets.of(5 * HOUR + 1) == 5
    # bucket 5 holds 05:00-06:00; its last transaction's deadline passes at 06:00 the next day
    assert buckets.due_until(DAY + 6 * HOUR - 1) == 4
    assert buckets.due_until(DAY + 6 * HOUR) == 5


def _label(source: str, value: str, at: int) -> SourcedLabel:
    return SourcedLabel(source, value, event_time=0, label_time=at)


def test_kept_labels_follow_the_feedback_stores_precedence() -> None:
    held = merge_label(None, _label("ANALYST", "FRAUD", 10))
    assert effective_label(held) == "FRAUD"
    held = merge_label(held, _label("CUSTOMER", "LEGIT", 20))
    assert effective_label(held) == "FRAUD"  # an analyst beats a customer
    held = merge_label(held, _label("CHARGEBACK", "LEGIT", 30))
    assert effective_label(held) == "LEGIT"  # a chargeback is final
    assert merge_label(held, _label("CHARGEBACK", "FRAUD", 5)) == held  # older: no change
    revised = merge_label(
        merge_label(None, _label("ANALYST", "LEGIT", 1)), _label("ANALYST", "FRAUD", 2)
    )
    assert effective_label(revised) == "FRAUD"  # within a source the later one wins
    assert revised == '{"ANALYST":["FRAUD",2]}'


def test_a_settled_bucket_counts_each_labelled_fraud_by_its_kept_row() -> None:
    fraud = merge_label(None, _label("CHARGEBACK", "FRAUD", 1))
    legit = merge_label(None, _label("CHARGEBACK", "LEGIT", 1))
    labels = {"a": fraud, "b": fraud, "c": fraud, "d": legit, "e": fraud}
    codes = {
        "a": RowCode(0, True, False, False).encode(),
        "b": None,  # a default row: missed by both
        "c": RowCode(0, False, True, False).encode(),
        "d": RowCode(0, True, True, False).encode(),
        "e": RowCode(0, True, True, True).encode(),  # unscored: left out
    }
    shadow = settle_bucket("shadow", labels, codes)
    assert (shadow.frauds, shadow.unscored) == (3, 1)
    assert shadow.increments == {
        "0:frauds": 3.0,
        "1:frauds": 3.0,
        "0:caught": 1.0,
        "1:caught": 1.0,
        "pair:n": 3.0,
        "pair:sum": 0.0,
        "pair:squares": 2.0,
    }
    split = settle_bucket(
        "split", {"a": fraud, "x": fraud}, {"x": RowCode(1, False, True, False).encode()}
    )
    # "a" kept nothing: the champion decided it and missed it
    assert split.increments == {"0:frauds": 1.0, "1:frauds": 1.0, "1:caught": 1.0}
