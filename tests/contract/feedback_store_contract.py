"""One behavioural suite for the feedback store over every StateStore implementation.

Subclass :class:`FeedbackStoreContract` and provide a ``store`` fixture (an empty store).
"""

from __future__ import annotations

from typing import Any

import pytest

from stream_sentinel.learning import keys
from stream_sentinel.learning.feedback import LABEL_TTL_MS, FeedbackStore
from stream_sentinel.learning.feedback_stats import read_stats
from stream_sentinel.state.base import Batch, StateStore

T0 = 1_700_000_000_000  # 2023-11-14 22:13:20 UTC
HOUR = 3_600_000
DAY = 24 * HOUR


def label(tx: str, source: str, value: str, after_ms: int) -> dict[str, Any]:
    """A decoded Feedback record for a transaction made at T0."""
    return {
        "transaction_id": tx,
        "user_id": "u1",
        "merchant_id": "m1",
        "event_time": T0,
        "label": value,
        "source": source,
        "confidence": 1.0,
        "pattern": None,
        "label_time": T0 + after_ms,
    }


STREAM = [
    label("tx1", "CUSTOMER", "FRAUD", 2 * HOUR),
    label("tx1", "ANALYST", "LEGIT", 3 * HOUR),  # disagrees with the customer: analyst wins
    label("tx1", "CHARGEBACK", "FRAUD", 20 * DAY),  # final: overrules the analyst
    label("tx2", "ANALYST", "LEGIT", 3 * HOUR),
    label("tx1", "CUSTOMER", "FRAUD", 2 * HOUR),  # re-delivered: changes nothing
]


@pytest.mark.contract
class FeedbackStoreContract:
    def test_precedence_decides_and_every_source_is_kept(self, store: StateStore) -> None:
        feedback = FeedbackStore(store)
        changes = feedback.ingest(STREAM)
        assert [c.changed for c in changes] == [True, True, True, True, False]
        assert [c.effective.source for c in changes] == [
            "CUSTOMER",
            "ANALYST",
            "CHARGEBACK",
            "ANALYST",
            "CHARGEBACK",
        ]
        assert [c.conflicts for c in changes] == [
            (),
            ("ANALYST>CUSTOMER",),
            ("CHARGEBACK>ANALYST",),
            (),
            (),
        ]
        kept = feedback.labels("tx1")
        assert sorted(kept) == ["ANALYST", "CHARGEBACK", "CUSTOMER"]
        assert (kept["CHARGEBACK"].delay_ms, kept["ANALYST"].label) == (20 * DAY, "LEGIT")
        effective = feedback.effective("tx1")
        assert effective is not None and effective.label == "FRAUD"
        assert feedback.effective("tx-none") is None

    def test_labels_ingested_one_at_a_time_count_as_in_one_batch(self, store: StateStore) -> None:
        feedback = FeedbackStore(store)
        for record in STREAM:
            feedback.ingest([record])
        assert read_stats(store).to_json() == stats_of_stream()

    def test_stats_count_labels_per_day_and_source_with_delays_and_conflicts(
        self, store: StateStore
    ) -> None:
        FeedbackStore(store).ingest(STREAM)
        found = read_stats(store)
        assert found.to_json() == stats_of_stream()
        assert found.lines() == [
            "day        source       labels  fraud   share  delay p50/p90/p99",
            "2023-11-15 ANALYST           2      0    0.0%  <= 6h/<= 6h/<= 6h",
            "2023-11-15 CUSTOMER          1      1  100.0%  <= 6h/<= 6h/<= 6h",
            "2023-12-04 CHARGEBACK        1      1  100.0%  <= 30d/<= 30d/<= 30d",
            "conflicts: ANALYST>CUSTOMER 1, CHARGEBACK>ANALYST 1",
            "transactions by effective label (all time; relabelled after expiry counts "
            "again): FRAUD 1, LEGIT 1",
        ]
        assert [r.day for r in read_stats(store, days=1).rows] == ["2023-12-04"]

    def test_labels_re_sent_while_sources_disagree_add_no_conflicts(
        self, store: StateStore
    ) -> None:
        FeedbackStore(store).ingest(
            [
                label("t", "CUSTOMER", "FRAUD", HOUR),
                label("t", "ANALYST", "LEGIT", 2 * HOUR),
                label("t", "CUSTOMER", "FRAUD", 3 * HOUR),
                label("t", "ANALYST", "LEGIT", 4 * HOUR),
            ]
        )
        found = read_stats(store).to_json()
        assert (found["labels"], found["conflicts"]) == (4, {"ANALYST>CUSTOMER": 1})

    def test_a_transaction_labelled_again_after_its_labels_expired_is_counted_again(
        self, store: StateStore
    ) -> None:
        feedback = FeedbackStore(store)
        feedback.ingest([label("t", "ANALYST", "FRAUD", HOUR)])
        store.execute(Batch().delete(keys.FEEDBACK, keys.labels("t")))  # as its TTL would
        feedback.ingest([label("t", "CHARGEBACK", "FRAUD", 200 * DAY)])
        assert read_stats(store).effective == {"FRAUD": 2}  # what EFFECTIVE_LINE warns of

    def test_a_transactions_labels_expire_but_the_day_counters_do_not(
        self, store: StateStore
    ) -> None:
        FeedbackStore(store).ingest(STREAM[:1])
        ttl, day_ttl = store.execute(
            Batch()
            .pttl(keys.FEEDBACK, keys.labels("tx1"))
            .pttl(keys.FEEDBACK, keys.label_day("2023-11-15"))
        )
        assert LABEL_TTL_MS - 60_000 < ttl <= LABEL_TTL_MS
        assert day_ttl == -1


def stats_of_stream() -> dict[str, Any]:
    six_hours, thirty_days = 6 * HOUR, 30 * DAY
    at = {f"p{q}": six_hours for q in (50, 90, 99)}
    return {
        "labels": 4,
        "by_day": [
            {"day": "2023-11-15", "source": "ANALYST", "labels": 2, "fraud": 0}
            | {"fraud_share": 0.0, "delay_ms": at},
            {"day": "2023-11-15", "source": "CUSTOMER", "labels": 1, "fraud": 1}
            | {"fraud_share": 1.0, "delay_ms": at},
            {"day": "2023-12-04", "source": "CHARGEBACK", "labels": 1, "fraud": 1}
            | {"fraud_share": 1.0, "delay_ms": {f"p{q}": thirty_days for q in (50, 90, 99)}},
        ],
        "conflicts": {"ANALYST>CUSTOMER": 1, "CHARGEBACK>ANALYST": 1},
        "transactions": {"FRAUD": 1, "LEGIT": 1},
    }
