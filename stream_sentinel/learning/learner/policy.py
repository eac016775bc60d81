"""The promotion policy: does a candidate become champion, or stay challenger? And why.

Pure: two scorecards on the same validation window in, a :class:`Verdict` with its reason out.
Under ``guarded`` (the default) a candidate becomes champion when every band's alert rate on
the validation window is within its target (``target * (1 + alert_rate_tolerance)``, plus one
row's worth for small windows, and two standard errors of the quantile the bands were chosen
on) and, when there is a champion, neither its AP nor its ROC AUC is
below the champion's on the same rows by more than the tolerance. Under ``never`` it always
stays challenger. The reason is what the alias move records.

>>> policy = PromotionPolicy("guarded", 0.01, 0.01, 0.5, {"HIGH": 0.01})
>>> card = Scorecard("m-new", 0.95, 0.60, {"HIGH": 0.01}, 1000)
>>> decide(policy, card, None).reason
'promoted: no champion yet (AP 0.6000, ROC AUC 0.9500, band alert rates within targets)'
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal

Alias = Literal["champion", "challenger"]
CHAMPION: Final = "champion"
CHALLENGER: Final = "challenger"


@dataclass(frozen=True, slots=True)
class PromotionPolicy:
    mode: Literal["guarded", "never"]
    ap_tolerance: float
    auc_tolerance: float
    alert_rate_tolerance: float
    targets: Mapping[str, float]  # band -> target alert rate


@dataclass(frozen=True, slots=True)
class Scorecard:
    """What the policy compares: a version's metrics on the validation window."""

    version: str
    roc_auc: float
    average_precision: float
    alert_rates: Mapping[str, float]  # band -> share of validation traffic alerted
    rows: int
    #: Rows the bands were chosen on (0: not known, no allowance for their sampling).
    reference_rows: int = 0


@dataclass(frozen=True, slots=True)
class Verdict:
    alias: Alias
    reason: str


def decide(policy: PromotionPolicy, candidate: Scorecard, champion: Scorecard | None) -> Verdict:
    """The candidate's alias under ``policy`` and the reason (``champion``: the current one)."""
    scores = f"AP {candidate.average_precision:.4f}, ROC AUC {candidate.roc_auc:.4f}"
    if policy.mode == "never":
        return Verdict(
            CHALLENGER, f"kept as challenger: the promotion policy is 'never' ({scores})"
        )
    over = _band_over_target(policy, candidate)
    if over is not None:
        return Verdict(CHALLENGER, f"kept as challenger: {over}")
    if champion is None:
        return Verdict(
            CHAMPION, f"promoted: no champion yet ({scores}, band alert rates within targets)"
        )
    worse = _worse_than(policy, candidate, champion)
    if worse is not None:
        return Verdict(CHALLENGER, f"kept as challenger: {worse}")
    return Verdict(
        CHAMPION,
        f"promoted: AP {candidate.average_precision:.4f} vs {champion.average_precision:.4f} "
        f"and ROC AUC {candidate.roc_auc:.4f} vs {champion.roc_auc:.4f} of champion "
        f"{champion.version} on the same validation window, band alert rates within targets",
    )


def _band_over_target(policy: PromotionPolicy, card: Scorecard) -> str | None:
    for band, target in sorted(policy.targets.items()):
        rate = card.alert_rates.get(band)
        if rate is None:
            return f"band {band} has no alert rate on the validation window"
        allowed = target * (1 + policy.alert_rate_tolerance) + _sampling(target, card)
        if rate > allowed:
            return (
                f"band {band} alerts on {rate:.2%} of the validation window, above its target "
                f"{target:.2%} (+{policy.alert_rate_tolerance:.0%} allowed)"
            )
    return None


def _sampling(target: float, card: Scorecard) -> float:
    """Allowance for small samples: one validation row, and two standard errors of a
    quantile estimated on ``reference_rows`` rows (the bands' own sampling noise)."""
    reference = (
        2 * math.sqrt(target * (1 - target) / card.reference_rows) if card.reference_rows else 0
    )
    return 1 / max(card.rows, 1) + reference


def _worse_than(policy: PromotionPolicy, candidate: Scorecard, champion: Scorecard) -> str | None:
    checks = (
        ("AP", candidate.average_precision, champion.average_precision, policy.ap_tolerance),
        ("ROC AUC", candidate.roc_auc, champion.roc_auc, policy.auc_tolerance),
    )
    for name, mine, theirs, tolerance in checks:
        if mine != mine:  # NaN: nothing to compare on
            return f"its {name} cannot be computed on the validation window"
        if theirs == theirs and theirs - mine > tolerance:
            return (
                f"{name} {mine:.4f} is {theirs - mine:.4f} below champion {champion.version}'s "
                f"{theirs:.4f} on the same validation window (tolerance {tolerance:.4f})"
            )
    return None
