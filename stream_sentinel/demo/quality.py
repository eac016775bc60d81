"""Detection quality from the ledger: caught by pattern, precision/recall/AUC, latency. Pure.

"Caught" means the detector did not simply approve the payment: it held it for REVIEW,
CHALLENGEd it (step-up) or DECLINEd it — by its own score and rules, or because an earlier alert
had the user blocked or stepped up. Two views of quality:

- on *labelled* traffic: the transactions whose label (chargeback, analyst, customer) has been
  published — what a fraud team can measure in production. Every fraud is eventually reported
  but only 5% of legitimate payments are confirmed, so precision here is far higher than on all
  traffic;
- on *all* traffic against the simulator's ground truth — what only a simulation can know.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from stream_sentinel.config import DetectorSettings
from stream_sentinel.demo.ledger import REASONS, LedgerView
from stream_sentinel.domain import Decision
from stream_sentinel.generator.catalog import PATTERN_CODE, PATTERNS
from stream_sentinel.logic.evaluation import precision_recall_f1, roc_auc
from stream_sentinel.logic.rules import BEHAVIOUR_RULES, STEP_UP_REQUIRED, USER_BLOCKED

LEGITIMATE = "legitimate (false alarms)"
#: Reasons that mean an earlier alert's action is being enforced on this payment.
ENFORCEMENT = (USER_BLOCKED, STEP_UP_REQUIRED)


@dataclass(frozen=True, slots=True)
class PatternRow:
    """One fraud pattern's injected transactions, how many were caught, and by what.

    Every caught transaction counts under one cause: ``enforced`` when the user was already
    blocked or stepped up by an earlier alert, else ``by_rules`` when a rule that flags on its own
    fired, else ``by_model`` (the model's score band). ``top_rule`` is the rule that fired most
    often on the caught ones (any rule, with the share of the caught it fired on).
    """

    pattern: str
    injected: int
    decided: int
    caught: int
    enforced: int = 0
    by_rules: int = 0
    by_model: int = 0
    top_rule: tuple[str, float] | None = None

    @property
    def caught_share(self) -> float:
        return self.caught / self.injected if self.injected else float("nan")


@dataclass(frozen=True, slots=True)
class Quality:
    transactions: int
    fraud: int
    flagged: int
    precision: float
    recall: float
    auc: float


@dataclass(frozen=True, slots=True)
class Latency:
    """Kafka timestamp of the input -> decision committed, in milliseconds."""

    count: int
    p50: float
    p90: float
    p99: float
    max: float


def pattern_rows(view: LedgerView, flagging_rules: Collection[str] = ()) -> list[PatternRow]:
    """A row per fraud pattern, in the catalogue's order (zero rows included).

    ``flagging_rules``: the rules whose risk-level floor flags a payment on its own (a floor at
    or above the level that decides REVIEW); the others only add their reason.
    """
    return [
        accounting(name, view.pattern == PATTERN_CODE[name], view, flagging_rules)
        for name in PATTERNS
    ]


def false_alarms(view: LedgerView, flagging_rules: Collection[str] = ()) -> PatternRow:
    """The same accounting for legitimate payments: the "caught" are false alarms."""
    return accounting(LEGITIMATE, view.pattern == 0, view, flagging_rules)


def accounting(
    name: str, rows: npt.NDArray[np.bool_], view: LedgerView, flagging_rules: Collection[str]
) -> PatternRow:
    """Injected, decided and caught among ``rows``, and what caught them."""
    caught = view.reasons[rows & view.flagged]
    enforced, by_rules = _causes(caught, flagging_rules)
    return PatternRow(
        pattern=name,
        injected=int(rows.sum()),
        decided=int((rows & view.decided).sum()),
        caught=len(caught),
        enforced=enforced,
        by_rules=by_rules,
        by_model=len(caught) - enforced - by_rules,
        top_rule=top_rule(caught),
    )


def flagging_rules(detector: DetectorSettings) -> tuple[str, ...]:
    """The rules whose risk-level floor alone makes the decision more than APPROVE."""
    return tuple(
        rule
        for rule, level in detector.rules.levels.items()
        if detector.decisions.get(level, Decision.APPROVE) != Decision.APPROVE
    )


def _bits(names: Collection[str]) -> int:
    return sum(1 << bit for bit, name in enumerate(REASONS) if name in names)


def _causes(masks: npt.NDArray[np.uint16], flagging_rules: Collection[str]) -> tuple[int, int]:
    """(enforced, by rules) among caught rows with these reason masks."""
    enforced = (masks & _bits(ENFORCEMENT)) != 0
    by_rules = ~enforced & ((masks & _bits(flagging_rules)) != 0)
    return int(enforced.sum()), int(by_rules.sum())


def top_rule(masks: npt.NDArray[np.uint16]) -> tuple[str, float] | None:
    """The behaviour rule that fired on most of these rows, with the share it fired on."""
    if not len(masks):
        return None
    counts = {name: int(((masks >> REASONS.index(name)) & 1).sum()) for name in BEHAVIOUR_RULES}
    name, fired = max(counts.items(), key=lambda item: item[1])
    return (name, fired / len(masks)) if fired else None


def all_fraud(rows: list[PatternRow]) -> PatternRow:
    """The total over every pattern."""
    return PatternRow(
        "all fraud",
        sum(r.injected for r in rows),
        sum(r.decided for r in rows),
        sum(r.caught for r in rows),
        sum(r.enforced for r in rows),
        sum(r.by_rules for r in rows),
        sum(r.by_model for r in rows),
    )


def quality(
    truth: npt.NDArray[np.bool_],
    flagged: npt.NDArray[np.bool_],
    scores: npt.NDArray[np.float64],
    with_auc: bool = True,
) -> Quality:
    precision, recall, _ = precision_recall_f1(truth, flagged)
    auc = roc_auc(truth, scores) if with_auc else float("nan")
    return Quality(len(truth), int(truth.sum()), int(flagged.sum()), precision, recall, float(auc))


def labelled_quality(view: LedgerView, with_auc: bool = True) -> Quality:
    """On the decided transactions whose label has been published (labels as reported)."""
    rows = view.decided & (view.label >= 0)
    return quality(view.label[rows] == 1, view.flagged[rows], view.score[rows], with_auc)


def ground_truth_quality(view: LedgerView, with_auc: bool = True) -> Quality:
    """On every decided transaction, against the simulator's ground truth."""
    rows = view.decided
    return quality(view.fraud[rows], view.flagged[rows], view.score[rows], with_auc)


def latency(samples_ms: npt.NDArray[np.float64]) -> Latency:
    if not len(samples_ms):
        nan = float("nan")
        return Latency(0, nan, nan, nan, nan)
    p50, p90, p99 = np.percentile(samples_ms, [50, 90, 99]).tolist()
    return Latency(len(samples_ms), p50, p90, p99, float(samples_ms.max()))
