"""The running experiment's challenger, served beside the champion: it scores every batch in
shadow mode and decides its arm's users in split mode.

While an experiment runs (the experiments store, Redis DB5), every detector process also
serves the registry alias its mode names (``shadow`` for a shadow experiment, ``challenger``
for a split one) with a :class:`~.models.RegistryModels` of its own: the same discipline as the
champion (loaded on a background thread, swapped between two batches, a version it cannot use
refused with the reason in the log, the ``sentinel_shadow_model_*`` metrics and the
heartbeat). The experiment is read again on every wake from ``model-events`` (the champion's
follower is shared) and every ``check_s``: `experiments stop` announces nothing, so a stopped
experiment stops being served within ``check_s``.

Each batch is scored once more, on the same feature matrix (one ``predict``):

- **shadow**: only the champion decides; the challenger's scores and its risk levels by its
  own bands go to the batch's feature-log rows.
- **split**: each row's arm is its user's (:func:`~stream_sentinel.logic.experiments.split.arms_of`,
  the same in every process); arm 1 rows are decided by the challenger, arm 0 rows by the
  champion (:func:`~.scorer.score_split`), and each feature-log row carries the other arm's
  score.

A batch is scored by the experiment's challenger only: while the alias points elsewhere, its
version is still loading, or it failed once (then not in that experiment; a new one tries it
again), the champion decides every row, the rows name the experiment as arm 0 and carry no
shadow score.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np

from stream_sentinel.clients.backends import Backends
from stream_sentinel.clock import SYSTEM_CLOCK, Clock
from stream_sentinel.config import Settings
from stream_sentinel.detector.metrics import DetectorMetrics
from stream_sentinel.detector.models import RETRY_MS, ModelSource, RegistryModels
from stream_sentinel.detector.scorer import Scored, ShadowScores, score_batch, score_split
from stream_sentinel.errors import SentinelError
from stream_sentinel.learning.aliases import CHALLENGER, SHADOW
from stream_sentinel.learning.experiments.store import ExperimentStore
from stream_sentinel.learning.registry import ModelRegistry
from stream_sentinel.logic.experiments.definition import Experiment
from stream_sentinel.logic.experiments.split import arms_of
from stream_sentinel.logic.rules import ControlFlags
from stream_sentinel.scoring.serving import ServingModel

log = logging.getLogger(__name__)

#: The registry alias an experiment of each mode moves to its challenger.
ALIAS_OF_MODE = {"shadow": SHADOW, "split": CHALLENGER}


class ChallengerModels:
    """The running experiment's challenger, served beside the champion (see the module doc)."""

    def __init__(
        self,
        experiments: ExperimentStore,
        models: RegistryModels,
        *,
        check_s: float = 30.0,
        clock: Clock = SYSTEM_CLOCK,
        metrics: DetectorMetrics | None = None,
    ) -> None:
        if models.alias not in ALIAS_OF_MODE.values() or models.follower is not None:
            raise ValueError(
                "a challenger source serves an experiment's alias, woken by the champion's"
            )
        self.experiments = experiments
        self.models = models
        models.without = "the champion alone"
        self.check_ms = int(check_s * 1000)
        self.clock = clock
        self.metrics = metrics
        self.experiment: Experiment | None = None
        self._read_error: str | None = None  # the last experiment read failed: why
        self._score_error: str | None = None  # the challenger's predict failed: why
        self._next_check_ms: int | None = None  # None: at the next refresh
        self._broken: str | None = None  # a version that failed: not in this experiment
        #: Scoring cost of the batches both models scored, per arm [microseconds, rows], not
        #: yet added to the experiment's record (at each check; see :meth:`_flush_cost`).
        self._cost = {0: [0.0, 0], 1: [0.0, 0]}
        self._first = False  # which model is timed first (alternates per batch)

    def follow(self, champion: ModelSource) -> None:
        """Wake on the champion's model-events follower (any event re-reads the experiment)."""
        if isinstance(champion, RegistryModels):
            champion.listeners.append(self._heard)

    def start(self) -> None:
        """Before the first batch: the running experiment, and its challenger loaded."""
        self._check()
        if self.experiment is not None:
            self.models.start()

    def refresh(self) -> None:
        """Between batches: the experiment re-read when due, its alias followed."""
        due = self._next_check_ms is None or self.clock.now_ms() >= self._next_check_ms
        if due and self._check():
            self.models.wake()  # a new experiment: its alias, read now
        if self.experiment is not None:
            self.models.refresh()

    def close(self) -> None:
        self._flush_cost()
        self.models.close()

    # -- scoring ---------------------------------------------------------------------------
    def score(
        self,
        features: np.ndarray,
        control: ControlFlags,
        champion: ServingModel | None,
        settings: Settings,
        users: list[str],
        user_ix: np.ndarray,
    ) -> Scored:
        """The batch decided (``users``: the batch's distinct users, ``user_ix``: each row's
        index into them): by the champion alone outside a split experiment or while its
        challenger cannot score, else each row by its arm's model."""
        experiment = self.experiment
        if experiment is None:
            return score_batch(features, control, champion, settings)
        ours, challenger = self._both_scores(features, champion)
        scored = None
        if challenger is not None and ours is not None and experiment.mode == "split":
            assert champion is not None
            arms = arms_of(experiment.id, users, experiment.shares)[user_ix]
            model, theirs = challenger
            try:  # the challenger explains its risky rows too: a failure there decides nothing
                scored = score_split(
                    features, control, (champion, model), (ours, theirs), arms, settings
                )
            except Exception as exc:
                self._drop(model.version, f"cannot decide its arm ({exc})")
        if scored is None:
            scored = score_batch(features, control, champion, settings, ours)
            if challenger is not None and experiment.mode == "shadow":
                model, theirs = challenger
                scored.shadow = ShadowScores(model.version, theirs, model.bands.levels(theirs))
        scored.experiment = experiment.id
        return scored

    def _both_scores(
        self, features: np.ndarray, champion: ServingModel | None
    ) -> tuple[np.ndarray | None, tuple[ServingModel, np.ndarray] | None]:
        """Each model's scores of ``features``, timed for the latency guard rail (which goes
        first alternates, so neither always pays for cold caches)."""
        self._first = not self._first
        ours, ours_s, theirs = None, 0.0, None
        if self._first and champion is not None:
            ours, ours_s = _timed(champion.predict, features)
        theirs = self._challenger_scores(features)
        if not self._first and champion is not None:
            ours, ours_s = _timed(champion.predict, features)
        if theirs is None:
            return ours, None
        model, scores, theirs_s = theirs
        if champion is not None:
            self._add_cost(len(features), ours_s, theirs_s)
        return ours, (model, scores)

    def _drop(self, version: str, why: str) -> None:
        """Stop using ``version`` in this experiment (a new experiment tries it again)."""
        self._broken = version
        self._score_error = f"{self.models.alias} {version} {why}; not used in this experiment"
        self._count_failure(self._score_error)

    def _add_cost(self, rows: int, champion_s: float, challenger_s: float) -> None:
        for arm, seconds in ((0, champion_s), (1, challenger_s)):
            self._cost[arm][0] += seconds * 1e6
            self._cost[arm][1] += rows

    def _flush_cost(self) -> None:
        """Add the scoring cost measured since the last check to the experiment's record (for
        its latency guard rail); kept for the next check if the store cannot take it."""
        experiment = self.experiment
        if experiment is None or not self._cost[0][1]:
            return
        try:
            self.experiments.add_cost(experiment.id, self._cost)
        except SentinelError as exc:
            log.warning("scoring cost of %s not recorded yet (%s)", experiment.id, exc)
            return
        self._cost = {0: [0.0, 0], 1: [0.0, 0]}

    def _challenger_scores(
        self, features: np.ndarray
    ) -> tuple[ServingModel, np.ndarray, float] | None:
        """The experiment's challenger, its scores of ``features`` and the seconds they took
        (None: not served yet, or it cannot score: then never again)."""
        model, experiment = self.models.current, self.experiment
        if model is None or experiment is None:
            return None
        if model.version != experiment.challenger or model.version == self._broken:
            return None
        if self.models.state.alias != ALIAS_OF_MODE[experiment.mode]:
            return None  # loaded for another experiment's alias: not this one's until it moves
        started = time.perf_counter()
        try:
            scores = np.asarray(model.predict(features), dtype=np.float64)
            if scores.shape != (len(features),):
                raise ValueError(f"{len(scores)} scores for {len(features)} rows")
            if len(scores) and not _probabilities(scores):
                raise ValueError("scores outside 0..1 (or not numbers)")
        except Exception as exc:
            self._drop(model.version, f"cannot score ({exc})")
            return None
        elapsed = time.perf_counter() - started
        if self.metrics is not None:
            self.metrics.shadow_scoring.observe(elapsed)
        return model, scores, elapsed

    def status(self) -> dict[str, Any] | None:
        """What the heartbeat shows (None: no experiment running)."""
        experiment = self.experiment
        if experiment is None:
            return None
        state = self.models.state
        serving = state.version == experiment.challenger and state.version != self._broken
        return {
            "experiment_id": experiment.id,
            "mode": experiment.mode,
            "challenger": experiment.challenger,
            "version": state.version if serving else None,
            "error": self._read_error or self._score_error or state.error,
        }

    # -- the experiment ----------------------------------------------------------------------
    def _heard(self, aliases: frozenset[str | None] | None) -> None:
        self._next_check_ms = None  # re-read the experiment at this refresh
        if aliases is None or aliases & {None, self.models.alias}:
            self.models.wake()

    def _check(self) -> bool:
        """Read the running experiment: True when a new one started."""
        now = self.clock.now_ms()
        self._next_check_ms = now + self.check_ms
        self._flush_cost()
        try:
            found = self.experiments.active()
        except SentinelError as exc:
            self._next_check_ms = now + RETRY_MS
            self._read_error = f"cannot read the running experiment ({exc}); unchanged until it can"
            self._count_failure(self._read_error)
            return False
        self._read_error = None
        running = found if found is not None and found.mode in ALIAS_OF_MODE else None
        if running == self.experiment:
            return False
        before, self.experiment, self._score_error = self.experiment, running, None
        self._cost = {0: [0.0, 0], 1: [0.0, 0]}  # (what was not flushed is of the one before)
        self._broken = None  # a version that failed in the experiment before is tried again
        if running is None:
            log.info("experiment %s ended: the champion alone decides", before and before.id)
            return False
        self.models.alias = ALIAS_OF_MODE[running.mode]
        log.info("experiment %s (%s): serving %s", running.id, running.mode, running.challenger)
        return True

    def _count_failure(self, message: str) -> None:
        if self.metrics is not None:
            self.metrics.shadow.model_load_failures.inc()
        log.error("%s", message)


def registry_challenger(
    settings: Settings,
    backends: Backends,
    champion: ModelSource,
    *,
    clock: Clock = SYSTEM_CLOCK,
    metrics: DetectorMetrics | None = None,
    background: bool = True,
) -> ChallengerModels:
    """The challenger source of a detector on ``backends``, woken by ``champion``'s follower."""
    check_s = settings.detector.model_check_s
    models = RegistryModels(
        ModelRegistry(backends.state, clock),
        None,
        alias=SHADOW,  # until an experiment names its own
        check_s=check_s,
        clock=clock,
        metrics=metrics.shadow if metrics is not None else None,
        background=background,
    )
    challenger = ChallengerModels(
        ExperimentStore(backends.state, clock),
        models,
        check_s=check_s,
        clock=clock,
        metrics=metrics,
    )
    challenger.follow(champion)
    return challenger


def _timed(predict: Any, features: np.ndarray) -> tuple[np.ndarray, float]:
    started = time.perf_counter()
    scores = predict(features)
    return scores, time.perf_counter() - started


def _probabilities(scores: np.ndarray) -> bool:
    return bool(np.isfinite(scores).all() and scores.min() >= 0.0 and scores.max() <= 1.0)
