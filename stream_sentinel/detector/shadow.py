"""Shadow mode: the running experiment's challenger scores every batch beside the champion.

While a ``shadow`` experiment runs (the experiments store, Redis DB5), every detector process
also serves the registry's ``shadow`` alias with a :class:`~.models.RegistryModels` of its own:
the same discipline as the champion (loaded on a background thread, swapped between two
batches, a version it cannot use refused with the reason in the log, the
``sentinel_shadow_model_*`` metrics and the heartbeat). The experiment is read again on every
wake from ``model-events`` (the champion's follower is shared) and every ``check_s``: `experiments
stop` announces nothing, so a stopped experiment stops being scored within ``check_s``.

Each batch is scored once more, on the same feature matrix (one ``predict``); the shadow's
scores and its risk levels by its own bands go to the batch's feature-log rows. Only the
champion decides: nothing the shadow does (a refused version, a ``predict`` that raises)
changes a FraudScore, an alert or the state. A batch is shadow-scored only by the
experiment's challenger: while the alias points elsewhere (or its version is still loading)
the rows name the experiment and carry no shadow score.
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
from stream_sentinel.detector.scorer import Scored, ShadowScores
from stream_sentinel.errors import SentinelError
from stream_sentinel.learning.aliases import SHADOW
from stream_sentinel.learning.experiments.store import ExperimentStore
from stream_sentinel.learning.registry import ModelRegistry
from stream_sentinel.logic.experiments.definition import Experiment

log = logging.getLogger(__name__)


class ShadowModels:
    """The running shadow experiment's challenger, served beside the champion."""

    def __init__(
        self,
        experiments: ExperimentStore,
        models: RegistryModels,
        *,
        check_s: float = 30.0,
        clock: Clock = SYSTEM_CLOCK,
        metrics: DetectorMetrics | None = None,
    ) -> None:
        if models.alias != SHADOW or models.follower is not None:
            raise ValueError("a shadow source serves the shadow alias, woken by the champion's")
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
        """Between batches: the experiment re-read when due, the shadow alias followed."""
        due = self._next_check_ms is None or self.clock.now_ms() >= self._next_check_ms
        if due and self._check():
            self.models.wake()  # a new experiment: its shadow alias, read now
        if self.experiment is not None:
            self.models.refresh()

    def close(self) -> None:
        self.models.close()

    # -- scoring ---------------------------------------------------------------------------
    def annotate(self, scored: Scored, features: np.ndarray) -> None:
        """Name the experiment in ``scored`` and add the challenger's scores of ``features``
        (the matrix the champion scored); whatever fails here, the decisions stand."""
        experiment = self.experiment
        if experiment is None:
            return
        scored.experiment = experiment.id
        model = self.models.current
        if model is None or model.version != experiment.challenger or model.version == self._broken:
            return
        started = time.perf_counter()
        try:
            scores = np.asarray(model.predict(features), dtype=np.float64)
            if scores.shape != (len(features),):
                raise ValueError(f"{len(scores)} scores for {len(features)} rows")
        except Exception as exc:
            self._broken = model.version
            self._score_error = f"shadow {model.version} cannot score ({exc}); not used again"
            self._count_failure(self._score_error)
            return
        scored.shadow = ShadowScores(model.version, scores, model.bands.levels(scores))
        if self.metrics is not None:
            self.metrics.shadow_scoring.observe(time.perf_counter() - started)

    def status(self) -> dict[str, Any] | None:
        """What the heartbeat shows (None: no shadow experiment running)."""
        experiment = self.experiment
        if experiment is None:
            return None
        state = self.models.state
        serving = state.version == experiment.challenger and state.version != self._broken
        return {
            "experiment_id": experiment.id,
            "challenger": experiment.challenger,
            "version": state.version if serving else None,
            "error": self._read_error or self._score_error or state.error,
        }

    # -- the experiment ----------------------------------------------------------------------
    def _heard(self, aliases: frozenset[str | None] | None) -> None:
        self._next_check_ms = None  # re-read the experiment at this refresh
        if aliases is None or aliases & {None, SHADOW}:
            self.models.wake()

    def _check(self) -> bool:
        """Read the running experiment: True when a new one started."""
        now = self.clock.now_ms()
        self._next_check_ms = now + self.check_ms
        try:
            found = self.experiments.active()
        except SentinelError as exc:
            self._next_check_ms = now + RETRY_MS
            self._read_error = f"cannot read the running experiment ({exc}); unchanged until it can"
            self._count_failure(self._read_error)
            return False
        self._read_error = None
        running = found if found is not None and found.mode == "shadow" else None
        if running == self.experiment:
            return False
        before, self.experiment, self._score_error = self.experiment, running, None
        if running is None:
            log.info("experiment %s ended: the shadow model scores no more", before and before.id)
            return False
        log.info("experiment %s: shadow-scoring with %s", running.id, running.challenger)
        return True

    def _count_failure(self, message: str) -> None:
        if self.metrics is not None:
            self.metrics.shadow.model_load_failures.inc()
        log.error("%s", message)


def registry_shadow(
    settings: Settings,
    backends: Backends,
    champion: ModelSource,
    *,
    clock: Clock = SYSTEM_CLOCK,
    metrics: DetectorMetrics | None = None,
    background: bool = True,
) -> ShadowModels:
    """The shadow source of a detector on ``backends``, woken by ``champion``'s follower."""
    check_s = settings.detector.model_check_s
    models = RegistryModels(
        ModelRegistry(backends.state, clock),
        None,
        alias=SHADOW,
        check_s=check_s,
        clock=clock,
        metrics=metrics.shadow if metrics is not None else None,
        background=background,
    )
    shadow = ShadowModels(
        ExperimentStore(backends.state, clock),
        models,
        check_s=check_s,
        clock=clock,
        metrics=metrics,
    )
    shadow.follow(champion)
    return shadow
