"""Drift scenarios: how the stream changes at a switch point, so drift detection can be scored.

Each scenario has a fraud-pattern mix before and after the switch and, for legitimate traffic,
multipliers that apply after it. ``baseline`` never changes. The switch time is chosen by the
caller (``--switch-at``) and recorded in the run summary.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from stream_sentinel.errors import UsageError
from stream_sentinel.generator.catalog import PATTERN_CODE, PATTERN_NAMES

#: The steady-state share of each pattern in the fraud traffic.
BASE_MIX: dict[str, float] = {
    "card_testing": 0.18,
    "account_takeover": 0.17,
    "compromised_merchant": 0.15,
    "impossible_travel": 0.15,
    "velocity_burst": 0.17,
    "high_amount_outlier": 0.18,
}


@dataclass(frozen=True, slots=True)
class LegitShift:
    """How legitimate behaviour changes after the switch (1.0 / 0.0: unchanged)."""

    spend_multiple: float = 1.0
    peak_hour_shift: float = 0.0  # hours later in the day
    online_boost: float = 0.0  # added to each user's online share


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    description: str
    mix_before: Mapping[str, float] = field(default_factory=lambda: dict(BASE_MIX))
    mix_after: Mapping[str, float] = field(default_factory=lambda: dict(BASE_MIX))
    legit_after: LegitShift = LegitShift()
    drifts: bool = True  # False: the scenario has no switch point

    def mix(self, after_switch: bool) -> npt.NDArray[np.float64]:
        """Pattern shares indexed by pattern code (index 0, legitimate, is 0), summing to 1."""
        return mix_vector(self.mix_after if after_switch else self.mix_before)


def mix_vector(shares: Mapping[str, float]) -> npt.NDArray[np.float64]:
    vector = np.zeros(len(PATTERN_NAMES))
    for name, share in shares.items():
        if name not in PATTERN_CODE:
            raise UsageError(f"unknown fraud pattern {name!r}; known: {', '.join(PATTERN_CODE)}")
        vector[PATTERN_CODE[name]] = share
    total = vector.sum()
    if total <= 0:
        raise UsageError("a pattern mix needs at least one pattern with a positive share")
    return vector / total


def _without(pattern: str) -> dict[str, float]:
    return {name: share for name, share in BASE_MIX.items() if name != pattern}


def _boosted(pattern: str, share: float) -> dict[str, float]:
    rest = sum(v for k, v in BASE_MIX.items() if k != pattern)
    return {k: (share if k == pattern else v * (1 - share) / rest) for k, v in BASE_MIX.items()}


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(
            "baseline",
            "steady behaviour and a steady mix of all six fraud patterns; no switch",
            drifts=False,
        ),
        Scenario(
            "new-pattern",
            "account takeover is absent before the switch and appears after it",
            mix_before=_without("account_takeover"),
        ),
        Scenario(
            "spending-shift",
            "holiday season after the switch: legitimate amounts x1.45, shopping 2.5 h later "
            "in the day and more of it online",
            legit_after=LegitShift(spend_multiple=1.45, peak_hour_shift=2.5, online_boost=0.2),
        ),
        Scenario(
            "merchant-wave",
            "a wave of merchant compromises after the switch: compromised-merchant fraud goes "
            "from 15% to 60% of all fraud",
            mix_after=_boosted("compromised_merchant", 0.60),
        ),
    )
}


def get_scenario(name: str) -> Scenario:
    try:
        return SCENARIOS[name]
    except KeyError:
        known = ", ".join(SCENARIOS)
        raise UsageError(
            f"unknown scenario {name!r}: choose one of {known} (see --list-scenarios)"
        ) from None
