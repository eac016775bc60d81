"""Named rules over the feature matrix: pure and vectorised. A rule that fires is a `reason`.

Behavioural rules read features; control rules read the user's control state (blocked,
step-up required, watched) fetched fresh for the batch. Thresholds come from settings
(``RuleSettings`` has exactly these attributes), but this module only asks for the numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from stream_sentinel.logic.features import COLUMN

BEHAVIOUR_RULES: tuple[str, ...] = (
    "high_amount_vs_average",
    "impossible_travel",
    "velocity_burst",
    "new_device_high_amount",
    "card_testing",
    "merchant_high_fraud_rate",
)
USER_BLOCKED = "user_blocked"
STEP_UP_REQUIRED = "step_up_required"
WATCHED_USER = "watched_user"


@dataclass(slots=True)
class ControlFlags:
    """Per-transaction control state (True where the user's flag has not expired)."""

    blocked: np.ndarray
    step_up: np.ndarray
    watched: np.ndarray

    @classmethod
    def none(cls, count: int) -> ControlFlags:
        return cls(np.zeros(count, bool), np.zeros(count, bool), np.zeros(count, bool))


class RuleThresholds(Protocol):
    """The numbers the behavioural rules compare features with."""

    high_amount_multiple: float
    high_amount_min_history: int
    impossible_travel_kmh: float
    impossible_travel_min_km: float
    velocity_burst_20m: int
    velocity_burst_1h: int
    new_device_high_amount_multiple: float
    card_testing_count_1h: int
    merchant_fraud_rate: float
    merchant_fraud_min_labels: int


def evaluate(features: np.ndarray, rules: RuleThresholds) -> np.ndarray:
    """Boolean matrix ``[n, len(BEHAVIOUR_RULES)]``: which rule fired for which transaction."""
    x = features
    with np.errstate(invalid="ignore"):
        history = x[:, COLUMN["history_count"]] >= rules.high_amount_min_history
        over_mean = x[:, COLUMN["amount_over_mean"]]
        fired = np.column_stack(
            [
                history & (over_mean > rules.high_amount_multiple),
                (x[:, COLUMN["card_present"]] == 1)
                & (x[:, COLUMN["prev_card_present"]] == 1)
                & (x[:, COLUMN["distance_km"]] >= rules.impossible_travel_min_km)
                & (x[:, COLUMN["speed_kmh"]] >= rules.impossible_travel_kmh),
                (x[:, COLUMN["count_20m"]] + 1 >= rules.velocity_burst_20m)
                | (x[:, COLUMN["count_1h"]] + 1 >= rules.velocity_burst_1h),
                (x[:, COLUMN["new_device"]] == 1)
                & history
                & (over_mean > rules.new_device_high_amount_multiple),
                x[:, COLUMN["small_1h"]] >= rules.card_testing_count_1h - 1,
                (x[:, COLUMN["merchant_fraud_30d"]] >= rules.merchant_fraud_min_labels)
                & (x[:, COLUMN["merchant_fraud_rate_30d"]] >= rules.merchant_fraud_rate),
            ]
        )
    return fired
