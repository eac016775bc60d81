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
version is still loading, or its ``predict`` raised once (then it is not used again), the
champion decides every row, the rows name the experiment as arm 0 and carry no shadow score.
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
        self._broken: str | None = None  # a version whose predict raised: not used again
        #: Scoring cost of the batches both models scored, per arm [microseconds, rows], not
        #: yet added to the experiment's record (at each check; see :meth:`_flush_cost`).
        self._cost = {0: [0.0, 0], 1: [0.0, 0]}

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
        if experiment is None or champion is None:
            scored = score_batch(features, control, champion, settings)
            scored.experiment = experiment.id if experiment else None
            return scored
        started = time.perf_counter()
        ours = champion.predict(features)
        ours_s = time.perf_counter() - started
        challenger = self._challenger_scores(features)
        if challenger is not None:
            self._add_cost(len(features), ours_s, challenger[2])
        if challenger is not None and experiment.mode == "split":
            arms = arms_of(experiment.id, users, experiment.shares)[user_ix]
            model, theirs, _ = challenger
            scored = score_split(
                features, control, (champion, model), (ours, theirs), arms, settings
            )
        else:
            scored = score_batch(features, control, champion, settings, ours)
            if challenger is not None and experiment.mode == "shadow":
                model, theirs, _ = challenger
                scored.shadow = ShadowScores(model.version, theirs, model.bands.levels(theirs))
        scored.experiment = experiment.id
        return scored

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
        started = time.perf_counter()
        try:
            scores = np.asarray(model.predict(features), dtype=np.float64)
            if scores.shape != (len(features),):
                raise ValueError(f"{len(scores)} scores for {len(features)} rows")
        except Exception as exc:
            self._broken = model.version
            self._score_error = (
                f"{self.models.alias} {model.version} cannot score ({exc}); not used again"
            )
            self._count_failure(self._score_error)
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
