"""Whether a challenger may be tested against the champion, and the experiment that tests it.

Refused, saying how to fix it: no champion yet; the challenger is the champion; the two were
trained on different feature sets (the detector computes one feature vector per transaction
and both models must read it); a mode or share that does not make sense.
"""

from __future__ import annotations

from dataclasses import replace

from stream_sentinel.errors import UsageError
from stream_sentinel.learning.registry import ModelRegistry
from stream_sentinel.logic.experiments.definition import Experiment, experiment_id

CHAMPION = "champion"


def admit(
    registry: ModelRegistry,
    challenger: str,
    mode: str,
    share: float | None,
    metric: str,
    now_ms: int,
    actor: str,
    reason: str,
    label_deadline_ms: int,
) -> Experiment:
    champion = registry.aliases().get(CHAMPION)
    if champion is None:
        raise UsageError(
            "there is no champion to test against: promote one first "
            "(stream-sentinel models promote VERSION)"
        )
    version = registry.resolve(challenger)
    ours, theirs = registry.get(champion), registry.get(version)
    if ours.feature_set.hash != theirs.feature_set.hash:
        raise UsageError(
            f"{version} was trained on feature set {theirs.feature_set.name} "
            f"({theirs.feature_set.hash}), the champion {champion} on "
            f"{ours.feature_set.name} ({ours.feature_set.hash}): both must read the same "
            "features; retrain the challenger on the live feature set"
        )
    try:
        experiment = Experiment.new(
            experiment_id(version, now_ms), mode, champion, version, share, now_ms, actor, reason
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return replace(experiment, metric=metric, label_deadline_ms=label_deadline_ms)
