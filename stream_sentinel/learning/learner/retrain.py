"""One retrain: a snapshot of the training set, a time-ordered fit and validation, the candidate
registered with its metrics and lineage, and the policy's alias move with its reason.

Training runs in process on a snapshot (the rows are read once, then nothing else is touched
until the model is registered), so the consumer group's loops wait for it between two batches:
about 16 s for a set of 95k rows on two cores with the live recipe (docs/learning.md). Every
outcome, a skip included, is a :class:`RetrainOutcome` the learner keeps in its decisions. The
bands are chosen on the pending rows' scores (the latest traffic) and checked on validation; a
champion that exists but cannot be scored keeps its alias (the candidate stays challenger).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import lightgbm as lgb
import numpy as np

from stream_sentinel.config.learning import LearningSettings
from stream_sentinel.domain import RiskLevel
from stream_sentinel.errors import AliasUnchanged, SentinelError
from stream_sentinel.learning.learner.evaluation import alert_rates, scorecard
from stream_sentinel.learning.learner.online import OnlineLearning
from stream_sentinel.learning.learner.online_candidate import online_candidate
from stream_sentinel.learning.learner.policy import (
    CHALLENGER,
    CHAMPION,
    PromotionPolicy,
    Scorecard,
    Verdict,
    decide,
)
from stream_sentinel.learning.learner.rows import HOUR_MS
from stream_sentinel.learning.learner.store import TrainingSetStore
from stream_sentinel.learning.learner.trainingset import (
    Cut,
    Part,
    TrainingSet,
    join,
    sampled_out,
    summary_of,
)
from stream_sentinel.learning.models import draft_of, load_model
from stream_sentinel.learning.registry import ModelRegistry
from stream_sentinel.learning.versions import CreatedBy, version_id
from stream_sentinel.logic.decisions import Bands
from stream_sentinel.logic.features import FEATURES
from stream_sentinel.scoring.model import ModelArtifact, choose_bands
from stream_sentinel.scoring.online_artifact import KIND as ONLINE_KIND
from stream_sentinel.scoring.serving import ServingModel
from stream_sentinel.scoring.train import PARAMS, ROUNDS

log = logging.getLogger(__name__)
ACTOR: CreatedBy = "learn"
#: What the last decision keeps of the scorecard.
SUMMARY = ("roc_auc", "average_precision", "card_precision_at_100", "alert_rate")


@dataclass(frozen=True, slots=True)
class RetrainOutcome:
    """What a retrain decided: a version and the alias it moved (None: no model), and why."""

    event_time_ms: int
    trigger: str
    reason: str
    version: str | None = None
    alias: str | None = None
    counts: Mapping[str, int] = field(default_factory=dict)
    metrics: Mapping[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def cut_of(settings: LearningSettings, now_ms: int) -> Cut:
    return Cut(now_ms, settings.label_delay_ms, settings.window_ms, settings.validation_ms)


def parameters_of(settings: LearningSettings) -> dict[str, int]:
    """The settings a learner runs with that `learn status` reports (it persists them)."""
    names = ("retrain_every_ms", "label_delay_ms", "window_ms", "validation_ms")
    return {name: int(getattr(settings, name)) for name in (*names, "legit_keep_one_in")}


def policy_of(settings: LearningSettings, band_rates: Mapping[RiskLevel, float]) -> PromotionPolicy:
    return PromotionPolicy(
        settings.promotion,
        settings.ap_tolerance,
        settings.auc_tolerance,
        settings.alert_rate_tolerance,
        {level.name: rate for level, rate in sorted(band_rates.items())},
    )


class Retrainer:
    def __init__(
        self,
        training_set: TrainingSetStore,
        registry: ModelRegistry,
        settings: LearningSettings,
        band_rates: Mapping[RiskLevel, float],
        alert_level: RiskLevel,
        actor: CreatedBy = ACTOR,
    ) -> None:
        """``actor``: who registers and promotes the candidates (the backtest passes its own)."""
        self._set, self._registry, self._settings = training_set, registry, settings
        self._actor: CreatedBy = actor
        self._band_rates, self._alert_level = dict(band_rates), alert_level
        self._policy = policy_of(settings, band_rates)
        self.online = (
            OnlineLearning(
                training_set.state,
                settings.label_delay_ms,
                settings.window_ms,
                settings.legit_keep_one_in,
            )
            if settings.learner != "batch"
            else None
        )

    def training_set(self, now_ms: int) -> TrainingSet:
        """The set at ``now_ms``; mature never-labelled rows outside the sample are dropped
        from the store on the way (whole hours past the label delay only)."""
        cut = cut_of(self._settings, now_ms)
        rows, labels = self._set.snapshot(cut.window_start, now_ms + 1)
        mature_hours_end = cut.mature_end // HOUR_MS * HOUR_MS
        keep = self._settings.legit_keep_one_in
        self._set.drop_rows(sampled_out(rows, labels, mature_hours_end, keep))
        return join(rows, labels, cut, keep)

    def survey(self, now_ms: int) -> dict[str, int]:
        """The training set's counts at ``now_ms`` (no compaction, no training)."""
        cut = cut_of(self._settings, now_ms)
        rows, labels = self._set.snapshot(cut.window_start, now_ms + 1)
        return summary_of(join(rows, labels, cut, self._settings.legit_keep_one_in))

    def retrain(self, now_ms: int, trigger: str) -> RetrainOutcome:
        """The batch (LightGBM) candidate at ``now_ms``."""
        return self._batch(self.training_set(now_ms), trigger)

    def retrain_all(self, now_ms: int, trigger: str) -> list[RetrainOutcome]:
        """A candidate of each kind the settings' ``learner`` asks for, batch first (the
        training set is read once)."""
        if self._settings.learner == "batch":
            return [self.retrain(now_ms, trigger)]
        found = self.training_set(now_ms)
        outcomes = [self._batch(found, trigger)] if self._settings.learner == "both" else []
        outcomes.append(self._online_candidate(found, trigger))
        return outcomes

    def learn_online(self, now_ms: int) -> int:
        """Learn what became learnable by ``now_ms`` (0 without an online model)."""
        return self.online.update(now_ms) if self.online is not None else 0

    def _batch(self, found: TrainingSet, trigger: str) -> RetrainOutcome:
        counts = summary_of(found)
        short = self._too_small(found)
        if short is not None:
            return RetrainOutcome(found.cut.now_ms, trigger, f"skipped: {short}", counts=counts)
        booster = fit(found.train)
        validation = found.validation.expanded()
        scores = _predict(booster, validation.features)
        bands, chosen_on = self._bands(booster, found)
        artifact = ModelArtifact(
            version_id(booster.model_to_string().encode()),
            booster,
            FEATURES,
            bands,
            _metadata(found, trigger),
        )
        return self._decide(artifact, scores, validation, found, trigger, chosen_on)

    def _online_candidate(self, found: TrainingSet, trigger: str) -> RetrainOutcome:
        assert self.online is not None
        now_ms, counts = found.cut.now_ms, summary_of(found)
        s = self._settings
        short = self._too_small(found)
        validation = found.validation.expanded()
        made = (
            online_candidate(
                self.online,
                found,
                validation,
                self._band_rates,
                trigger,
                s.min_train_rows,
                s.min_train_frauds,
            )
            if short is None
            else short
        )
        if isinstance(made, str):
            return RetrainOutcome(now_ms, trigger, f"skipped (online): {made}", counts=counts)
        return self._decide(
            made.artifact, made.validation_scores, validation, found, trigger, made.extra
        )

    def _decide(
        self,
        artifact: ServingModel,
        scores: np.ndarray,
        validation: Part,
        found: TrainingSet,
        trigger: str,
        extra: Mapping[str, Any],
    ) -> RetrainOutcome:
        """Score the candidate, compare it with the champion, register it, move its alias."""
        span = (found.cut.validation_start, found.cut.mature_end)
        card = scorecard(scores, validation, artifact.bands, self._alert_level, span) | dict(extra)
        current, theirs, failure = self._compare(validation, span)
        version = self._register(artifact, card, current, theirs, trigger)
        verdict = self._verdict(version, card, theirs, failure)
        verdict = self._guard_online(artifact.kind, current, verdict)
        self._move(version, verdict)
        summary = {k: float(card[k]) for k in SUMMARY}
        return RetrainOutcome(
            found.cut.now_ms,
            trigger,
            verdict.reason,
            version,
            verdict.alias,
            summary_of(found),
            summary,
        )

    def _register(
        self,
        artifact: ServingModel,
        card: Mapping[str, Any],
        parent: str | None,
        champion: Scorecard | None,
        trigger: str,
    ) -> str:
        """Register the candidate with its scorecard, and the champion's on the same rows."""
        draft, blob = draft_of(
            artifact,
            self._settings.label_delay_ms,
            created_by=self._actor,
            parent=parent,
            tags={"trigger": trigger},
        )
        metrics = dict(card)
        if champion is not None:
            metrics["champion"] = {
                "version": champion.version,
                "roc_auc": champion.roc_auc,
                "average_precision": champion.average_precision,
            }
        version, _ = self._registry.register(replace(draft, metrics=metrics), blob)
        return version.version

    def _too_small(self, found: TrainingSet) -> str | None:
        s, train, validation = self._settings, found.train, found.validation
        legit = validation.rows - validation.frauds
        if (
            train.rows >= s.min_train_rows
            and train.frauds >= s.min_train_frauds
            and validation.frauds >= s.min_validation_frauds
            and legit > 0
        ):
            return None
        return (
            f"not enough labelled rows: training {train.rows} rows, {train.frauds} frauds; "
            f"validation {validation.rows} rows, {validation.frauds} frauds (need >= "
            f"{s.min_train_rows} rows and >= {s.min_train_frauds} frauds to train, >= "
            f"{s.min_validation_frauds} frauds and a legitimate row to validate)"
        )

    def _bands(self, booster: lgb.Booster, found: TrainingSet) -> tuple[Bands, dict[str, Any]]:
        """Bands chosen on the scores of rows the validation check does not see: the pending
        rows (the latest traffic, no labels needed), else the training part's."""
        source = found.pending if found.pending.rows else found.train.expanded()
        name = "pending" if found.pending.rows else "training"
        bands = choose_bands(_predict(booster, source.features), self._band_rates)
        return bands, {"bands_chosen_on": {"part": name, "rows": source.rows}}

    def _compare(
        self, validation: Part, span: tuple[int, int]
    ) -> tuple[str | None, Scorecard | None, str | None]:
        """The champion's version, its scorecard on the same rows, and why it could not be
        scored (None, None, None: the alias is unset, there is no champion)."""
        current = self._registry.aliases().get(CHAMPION)
        if current is None:
            return None, None, None
        try:
            champion = load_model(self._registry, current)
            on_same_rows = champion.predict(validation.features)
            card = scorecard(on_same_rows, validation, champion.bands, self._alert_level, span)
        except (SentinelError, ValueError, lgb.basic.LightGBMError) as exc:
            log.warning("cannot score champion %s on the validation rows: %s", current, exc)
            return current, None, f"cannot compare with champion {current}: {exc}"
        return current, _card_of(champion.version, card), None

    def _verdict(
        self,
        version: str,
        card: Mapping[str, Any],
        theirs: Scorecard | None,
        failure: str | None,
    ) -> Verdict:
        if failure is not None:  # a champion exists: never replace it unseen
            return Verdict(CHALLENGER, f"kept as challenger: {failure}")
        if theirs is not None and theirs.version == version:
            return Verdict(CHAMPION, f"unchanged: {version} is already champion")
        return decide(self._policy, _card_of(version, card), theirs)

    def _guard_online(self, kind: str, current: str | None, verdict: Verdict) -> Verdict:
        """An online candidate is scored on prequential scores, and an online champion on rows
        it has partly learned: both favour the online model, so neither comparison may promote
        on its own (docs/learning.md); an experiment or an operator decides."""
        if current is None or verdict.alias != CHAMPION or verdict.reason.startswith("unchanged"):
            return verdict  # (with no champion there is nothing to compare with)
        theirs = self._registry.get(current).kind
        if ONLINE_KIND in (kind, theirs):
            return Verdict(
                CHALLENGER,
                "kept as challenger: the comparison involves an online model, whose validation "
                "scores favour it; test it in a shadow experiment (stream-sentinel experiments "
                "start) or promote it by hand",
            )
        return verdict

    def _move(self, version: str, verdict: Verdict) -> None:
        if verdict.reason.startswith("unchanged"):
            return
        try:
            self._registry.promote(version, verdict.alias, reason=verdict.reason, actor=self._actor)
        except AliasUnchanged:
            log.info("%s is already %s", version, verdict.alias)


def fit(part: Part) -> lgb.Booster:
    """The live recipe on the training part, never-labelled rows weighted by their sampling."""
    dataset = lgb.Dataset(
        part.features,
        label=part.labels.astype(np.int32),
        weight=part.weights.astype(np.float64),
        feature_name=list(FEATURES),
        free_raw_data=True,
    )
    return lgb.train(PARAMS, dataset, num_boost_round=ROUNDS)


def _predict(booster: lgb.Booster, features: np.ndarray) -> np.ndarray:
    return np.asarray(booster.predict(features, num_threads=1), dtype=np.float64)


def _card_of(version: str, card: Mapping[str, Any]) -> Scorecard:
    return Scorecard(
        version,
        float(card["roc_auc"]),
        float(card["average_precision"]),
        alert_rates(card),
        int(card["validation_rows"]),
        int(card.get("bands_chosen_on", {}).get("rows", 0)),
    )


def _metadata(found: TrainingSet, trigger: str) -> dict[str, Any]:
    train, validation = found.train, found.validation
    window = {
        "start_ms": int(train.event_time[0]),
        "end_ms": int(train.event_time[-1]),
        "validation_start_ms": int(validation.event_time[0]),
        "validation_end_ms": int(validation.event_time[-1]),
        "rows": train.rows,
        "frauds": train.frauds,
    }
    return {"params": PARAMS, "rounds": ROUNDS, "window": window, "source": f"learn ({trigger})"}
