"""Named rules over features, and the mapping from scores and rules to levels and decisions."""

from __future__ import annotations

import numpy as np

from stream_sentinel.config import load_settings
from stream_sentinel.detector.scorer import policy_of
from stream_sentinel.domain import RiskLevel
from stream_sentinel.logic.decisions import DECISIONS, Bands, decide
from stream_sentinel.logic.features import COLUMN, FEATURES
from stream_sentinel.logic.rules import BEHAVIOUR_RULES, ControlFlags, evaluate
from stream_sentinel.wire.schemas.catalog import latest_for_topic

SETTINGS = load_settings(environ={})


def features(**values: float) -> np.ndarray:
    row = np.zeros((1, len(FEATURES)))
    row[0, COLUMN["history_count"]] = 10
    row[0, COLUMN["amount_over_mean"]] = 1.0
    for name, value in values.items():
        row[0, COLUMN[name]] = value
    return row


def fired(**values: float) -> list[str]:
    hits = evaluate(features(**values), SETTINGS.detector.rules)[0]
    return [BEHAVIOUR_RULES[i] for i in np.flatnonzero(hits)]


def test_quiet_transaction_fires_nothing() -> None:
    assert fired() == []


def test_each_rule_fires_on_its_own_signal() -> None:
    assert fired(amount_over_mean=5.01) == ["high_amount_vs_average"]
    assert fired(amount_over_mean=5.0) == []
    travel = {"card_present": 1, "prev_card_present": 1, "distance_km": 877, "speed_kmh": 1755}
    assert fired(**travel) == ["impossible_travel"]
    assert fired(**{**travel, "prev_card_present": 0}) == []  # online hops are not travel
    assert fired(count_20m=5) == ["velocity_burst"]  # the 6th transaction in ~20 minutes
    assert fired(count_20m=4) == []
    assert fired(count_1h=11) == ["velocity_burst"]
    assert fired(new_device=1, amount_over_mean=3.5) == ["new_device_high_amount"]
    assert fired(small_1h=3) == ["card_testing"]
    assert fired(merchant_fraud_30d=3, merchant_fraud_rate_30d=0.06) == ["merchant_high_fraud_rate"]
    assert fired(merchant_fraud_30d=2, merchant_fraud_rate_30d=0.5) == []


def test_high_amount_needs_history() -> None:
    assert fired(history_count=2, amount_over_mean=9) == []


def test_bands_map_scores_to_the_highest_level_reached() -> None:
    bands = Bands(
        {RiskLevel.LOW: 0.1, RiskLevel.MEDIUM: 0.3, RiskLevel.HIGH: 0.7, RiskLevel.CRITICAL: 0.9}
    )
    levels = bands.levels(np.array([0.0, 0.1, 0.29, 0.3, 0.7, 0.95]))
    assert levels.tolist() == [0, 1, 1, 2, 3, 4]
    assert Bands.from_json(bands.to_json()) == bands


def outcome(scores: list[float] | None, rules: list[list[bool]], **control: list[bool]):  # type: ignore[no-untyped-def]
    count = len(rules)
    flags = ControlFlags(
        np.array(control.get("blocked", [False] * count)),
        np.array(control.get("step_up", [False] * count)),
        np.array(control.get("watched", [False] * count)),
    )
    bands = Bands(
        {RiskLevel.LOW: 0.1, RiskLevel.MEDIUM: 0.3, RiskLevel.HIGH: 0.7, RiskLevel.CRITICAL: 0.9}
    )
    return decide(
        None if scores is None else np.array(scores),
        bands,
        np.array(rules, dtype=bool),
        flags,
        policy_of(SETTINGS),
    )


def names(decisions: np.ndarray) -> list[str]:
    return [DECISIONS[d].value for d in decisions]


NO_RULES = [False] * len(BEHAVIOUR_RULES)


def rule(name: str) -> list[bool]:
    return [r == name for r in BEHAVIOUR_RULES]


def test_decision_table_and_alert_level() -> None:
    out = outcome([0.01, 0.2, 0.5, 0.8, 0.99], [NO_RULES] * 5)
    assert out.levels.tolist() == [0, 1, 2, 3, 4]
    assert names(out.decisions) == ["APPROVE", "APPROVE", "REVIEW", "CHALLENGE", "DECLINE"]
    assert out.alerts.tolist() == [False, False, True, True, True]


def test_rules_raise_the_level_to_their_floor() -> None:
    out = outcome(
        [0.01, 0.01, 0.01],
        [rule("impossible_travel"), rule("velocity_burst"), rule("high_amount_vs_average")],
    )
    assert out.levels.tolist() == [RiskLevel.HIGH, RiskLevel.MEDIUM, RiskLevel.LOW]
    assert out.alerts.tolist() == [True, True, False]


def test_without_a_model_rules_decide_and_score_nominally() -> None:
    out = outcome(None, [NO_RULES, rule("card_testing")])
    assert out.levels.tolist() == [RiskLevel.MINIMAL, RiskLevel.HIGH]
    assert out.scores.tolist() == [0.01, 0.8]


def test_control_state_overrides_the_decision() -> None:
    out = outcome(
        [0.01, 0.01, 0.5, 0.2],
        [NO_RULES] * 4,
        blocked=[True, False, False, False],
        step_up=[False, True, True, False],
        watched=[False, False, False, True],
    )
    assert names(out.decisions) == ["DECLINE", "CHALLENGE", "CHALLENGE", "APPROVE"]
    # a watched user alerts from LOW (settings.alerts.watch_alert_level)
    assert out.alerts.tolist() == [False, False, True, True]


def test_decisions_follow_the_schema_symbol_order() -> None:
    assert [d.value for d in DECISIONS] == ["APPROVE", "CHALLENGE", "REVIEW", "DECLINE"]
    fields = latest_for_topic("fraud-scores").json["fields"]
    [decision] = [f["type"] for f in fields if f["name"] == "decision"]
    assert decision["symbols"] == [d.value for d in DECISIONS]  # the int8 codes index both
