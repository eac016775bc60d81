"""The promotion policy: which alias a candidate gets, and the exact reason recorded."""

from __future__ import annotations

import pytest

from stream_sentinel.learning.learner.policy import PromotionPolicy, Scorecard, Verdict, decide

pytestmark = pytest.mark.unit

TARGETS = {"HIGH": 0.01, "MEDIUM": 0.05}
GUARDED = PromotionPolicy("guarded", 0.01, 0.02, 0.5, TARGETS)


def card(version: str, auc: float, ap: float, high: float = 0.01, rows: int = 1000) -> Scorecard:
    return Scorecard(version, auc, ap, {"HIGH": high, "MEDIUM": 0.05}, rows)


def test_the_first_candidate_becomes_champion() -> None:
    assert decide(GUARDED, card("m-new", 0.95, 0.6), None) == Verdict(
        "champion",
        "promoted: no champion yet (AP 0.6000, ROC AUC 0.9500, band alert rates within targets)",
    )


def test_a_candidate_no_worse_than_the_champion_within_the_tolerance_is_promoted() -> None:
    verdict = decide(GUARDED, card("m-new", 0.94, 0.595), card("m-old", 0.95, 0.6))
    assert verdict == Verdict(
        "champion",
        "promoted: AP 0.5950 vs 0.6000 and ROC AUC 0.9400 vs 0.9500 of champion m-old on the "
        "same validation window, band alert rates within targets",
    )


def test_a_candidate_whose_ap_fell_more_than_the_tolerance_stays_challenger() -> None:
    verdict = decide(GUARDED, card("m-new", 0.96, 0.55), card("m-old", 0.95, 0.6))
    assert verdict == Verdict(
        "challenger",
        "kept as challenger: AP 0.5500 is 0.0500 below champion m-old's 0.6000 on the same "
        "validation window (tolerance 0.0100)",
    )


def test_a_candidate_whose_auc_fell_more_than_the_tolerance_stays_challenger() -> None:
    verdict = decide(GUARDED, card("m-new", 0.90, 0.61), card("m-old", 0.95, 0.6))
    assert verdict.reason == (
        "kept as challenger: ROC AUC 0.9000 is 0.0500 below champion m-old's 0.9500 on the "
        "same validation window (tolerance 0.0200)"
    )


def test_a_band_alerting_beyond_its_target_keeps_it_challenger_even_without_a_champion() -> None:
    verdict = decide(GUARDED, card("m-new", 0.99, 0.9, high=0.0165), None)
    assert verdict == Verdict(
        "challenger",
        "kept as challenger: band HIGH alerts on 1.65% of the validation window, above its "
        "target 1.00% (+50% allowed)",
    )
    # within target * 1.5 plus one row of a 1000-row window: allowed
    assert decide(GUARDED, card("m-new", 0.99, 0.9, high=0.016), None).alias == "champion"


def test_the_never_policy_keeps_every_candidate_challenger() -> None:
    never = PromotionPolicy("never", 0.01, 0.01, 0.5, TARGETS)
    assert decide(never, card("m-new", 0.99, 0.9), None).reason == (
        "kept as challenger: the promotion policy is 'never' (AP 0.9000, ROC AUC 0.9900)"
    )
