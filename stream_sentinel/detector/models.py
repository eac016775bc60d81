"""The model a detector scores with, and how it changes between batches.

:class:`ModelSource` holds a model its owner sets (the demo, the backtest, tests).
:class:`RegistryModels` serves an alias of the model registry (``champion`` by default): it
reads the registry when the worker starts, follows ``model-events`` between batches, and
re-reads the registry every ``check_s`` in case an announcement was lost. A new version is
loaded (its bytes verified against their sha256) on a background thread while the detector
keeps scoring; the swap itself happens between two batches, so every batch is scored by exactly
one model and each FraudScore names it. A version that cannot be loaded (hash mismatch, missing
artifact, a feature set this detector does not compute) is refused: the detector keeps the
model it has, says why in its log, metrics and heartbeat (`stream-sentinel status`), and tries
again on the next event.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any

from stream_sentinel.clients.backends import Backends
from stream_sentinel.clock import SYSTEM_CLOCK, Clock
from stream_sentinel.config import Settings
from stream_sentinel.detector.metrics import ModelMetrics
from stream_sentinel.errors import ModelError, SentinelError, UsageError
from stream_sentinel.learning.aliases import CHAMPION
from stream_sentinel.learning.model_events import EventFollower
from stream_sentinel.learning.models import load_model
from stream_sentinel.learning.registry import ModelRegistry
from stream_sentinel.scoring.serving import ServingModel
from stream_sentinel.transport.topics import Topics
from stream_sentinel.wire.serde import Serde

log = logging.getLogger(__name__)


@dataclass
class ModelState:
    """What a worker reports about its model (heartbeat, summary, `status`)."""

    version: str | None = None
    alias: str | None = None
    move: int = 0  # the alias move the current version came with (0: not from the registry)
    swaps: int = 0
    last_load_ms: float | None = None  # reading + verifying + parsing the last version loaded
    last_pause_ms: float | None = None  # the time between two batches the last swap took
    error: str | None = None  # why the alias's version is not served (None: it is)
    failed_version: str | None = None  # refused for its content: retried on the next event


class ModelSource:
    """A model set by its owner: :meth:`swap` changes it from the next batch on."""

    def __init__(
        self, artifact: ServingModel | None = None, metrics: ModelMetrics | None = None
    ) -> None:
        self.current: ServingModel | None = None
        self.state = ModelState()
        self.metrics = metrics
        if artifact is not None:
            self.swap(artifact)

    def start(self) -> None:
        """Before the first batch (a registry source loads its model here)."""

    def refresh(self) -> bool:
        """Between batches: True when the model changed."""
        return False

    def swap(self, artifact: ServingModel | None, move: int = 0, alias: str | None = None) -> None:
        """Use ``artifact`` from the next batch on (None: rules only)."""
        previous = self.current.version if self.current else "rules only"
        self.current = artifact
        state = self.state
        state.version = artifact.version if artifact else None
        state.alias, state.move = alias, move
        state.swaps += 1
        state.error = state.failed_version = None  # what is served now is what was asked for
        if self.metrics is not None:
            self.metrics.model.clear()
            self.metrics.model.labels(state.version or "rules only").set(1)
            self.metrics.model_swaps.inc()
        log.info(
            "model swapped: %s -> %s", previous, artifact.version if artifact else "rules only"
        )

    def status(self) -> dict[str, Any]:
        return asdict(self.state)

    def close(self) -> None:
        """Release what the source holds (a registry source: its event follower)."""


@dataclass
class _Pending:
    version: str
    move: int
    future: Future[tuple[ServingModel, float] | Exception]


#: Failures that are about the version itself (its bytes, its feature set, its existence):
#: retrying them before something changes cannot help. Anything else (Redis not answering) is
#: retried soon.
REFUSED = (ModelError, UsageError)
#: How soon a load or registry read that failed for another reason is tried again.
RETRY_MS = 2_000
#: Models kept in memory besides the current one: a rollback to the previous one is instant.
KEEP = 2


class RegistryModels(ModelSource):
    """Serves ``alias`` of the registry, following ``model-events`` (see the module doc)."""

    def __init__(
        self,
        registry: ModelRegistry,
        follower: EventFollower | None,
        *,
        alias: str = CHAMPION,
        check_s: float = 30.0,
        clock: Clock = SYSTEM_CLOCK,
        metrics: ModelMetrics | None = None,
        background: bool = True,
    ) -> None:
        super().__init__(None, metrics)
        self.registry = registry
        self.follower = follower
        self.alias = alias
        self.without = "rules only"  # what scores while no version is served (its messages)
        self.check_ms = int(check_s * 1000)
        self.clock = clock
        self._executor = (
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="model-load")
            if background
            else None
        )
        self._pending: _Pending | None = None
        self._next_check_ms: int | None = None  # None: check at the next refresh
        self._next_follow_ms = 0  # when to try starting the follower again
        self._recheck = False  # an event arrived: read the alias from the registry
        self._retry = False  # an event arrived: a refused version is worth another try
        self._recent: dict[str, ServingModel] = {}  # loaded versions, newest last
        #: Told of every wake between batches (the aliases whose events arrived; None: any
        #: alias may have moved): the experiment's challenger (:mod:`.shadow`) shares this
        #: follower.
        self.listeners: list[Callable[[frozenset[str | None] | None], None]] = []

    def wake(self) -> None:
        """Read the alias from the registry at the next refresh (and retry a refused version):
        what an event on model-events does."""
        self._recheck = self._retry = True

    def start(self) -> None:
        """Follow the events first, then read the registry (so no move falls between), and
        load the alias's version before the first batch."""
        self._start_following()
        target = self._target()
        if target is not None and target[0] != self.state.version:
            self._finish(target[0], target[1], self._load(target[0]), pause_from=None)

    def refresh(self) -> bool:
        started = time.perf_counter()
        if self._woken():
            self._recheck = self._retry = True
        if self._pending is not None:
            return self._collect(started)
        now = self.clock.now_ms()
        due = self._next_check_ms is None or now >= self._next_check_ms
        if not (self._recheck or due):
            return False
        self._recheck = False
        target = self._target()
        if target is None:
            return False
        version, move = target
        if version == self.state.version:
            self.state.move = move
            self.state.error = self.state.failed_version = None
            return False
        if version == self.state.failed_version and not self._retry:
            return False  # refused before: tried again on the next event, not on every check
        self._retry = False
        kept = self._recent.get(version)
        if kept is not None:  # a rollback to a version still in memory: no load
            return self._finish(version, move, (kept, 0.0), pause_from=started)
        if self._executor is None:
            return self._finish(version, move, self._load(version), pause_from=started)
        self._pending = _Pending(version, move, self._executor.submit(self._load, version))
        return False

    def close(self) -> None:
        try:
            if self.follower is not None:
                self.follower.close()
        finally:
            if self._executor is not None:  # a load in flight is not waited for
                self._executor.shutdown(wait=False, cancel_futures=True)

    # -- following model-events ------------------------------------------------------------------
    def _start_following(self) -> bool:
        """Start the follower (True when it runs); a failure is retried every RETRY_MS."""
        if self.follower is None:
            return False
        if self.follower.started:
            return True
        now = self.clock.now_ms()
        if now < self._next_follow_ms:
            return False
        try:
            self.follower.start()
        except SentinelError as exc:
            self._next_follow_ms = now + RETRY_MS
            log.warning(
                "cannot follow model-events (%s): re-reading the registry every %.0f s until "
                "it can",
                exc,
                self.check_ms / 1000,
            )
            return False
        return True

    def _woken(self) -> bool:
        """True when anything arrived on model-events for this alias, or the follower has just
        (re)started: what was published before it started is read from the registry."""
        if self.follower is None:
            return False
        if not self.follower.started:
            return self._tell(None) if self._start_following() else False
        try:
            seen = self.follower.poll()
        except SentinelError as exc:
            log.warning("model-events not readable (%s): following it again", exc)
            self.follower.close()
            return False
        if seen.undecodable > 0:
            return self._tell(None)
        aliases = frozenset(e.alias for e in seen.events)
        if aliases:
            self._tell(aliases)
        return bool(aliases & {None, self.alias})

    def _tell(self, aliases: frozenset[str | None] | None) -> bool:
        for listener in self.listeners:
            listener(aliases)
        return True

    # -- the registry ----------------------------------------------------------------------------
    def _target(self) -> tuple[str, int] | None:
        """The alias's version and move count now (None: unset, or the registry is down)."""
        now = self.clock.now_ms()
        self._next_check_ms = now + self.check_ms
        try:
            version, move = self.registry.alias_state(self.alias)
        except SentinelError as exc:
            self._next_check_ms = now + RETRY_MS
            keeping = self.state.version or self.without
            self._report(f"cannot read the model registry ({exc}); still scoring with {keeping}")
            return None
        return None if version is None else (version, move)

    def _load(self, version: str) -> tuple[ServingModel, float] | Exception:
        """The verified model and the seconds it took, or why it cannot be used (any failure:
        whatever goes wrong while loading, the detector keeps the model it has)."""
        started = time.perf_counter()
        try:
            artifact = load_model(self.registry, version)
        except Exception as exc:
            return exc
        return artifact, time.perf_counter() - started

    def _collect(self, started: float) -> bool:
        pending = self._pending
        assert pending is not None
        if not pending.future.done():
            return False
        self._pending = None
        loaded = pending.future.result()
        if self._recheck and not isinstance(loaded, Exception):
            target = self._target()  # the alias moved during the load: is it still wanted?
            if target is not None and target[0] != pending.version:
                self._keep(loaded[0])
                return self.refresh()  # serve what the alias points at now instead
        return self._finish(pending.version, pending.move, loaded, started)

    def _finish(
        self,
        version: str,
        move: int,
        loaded: tuple[ServingModel, float] | Exception,
        pause_from: float | None,
    ) -> bool:
        if isinstance(loaded, Exception):
            return self._refuse(version, loaded)
        artifact, load_s = loaded
        self.swap(artifact, move, self.alias)
        self._keep(artifact)
        if load_s:
            self.state.last_load_ms = round(load_s * 1000, 3)
            if self.metrics is not None:
                self.metrics.model_load.observe(load_s)
        if pause_from is not None:
            pause = time.perf_counter() - pause_from
            self.state.last_pause_ms = round(pause * 1000, 3)
            if self.metrics is not None:
                self.metrics.model_swap_pause.observe(pause)
        return True

    def _keep(self, artifact: ServingModel) -> None:
        self._recent.pop(artifact.version, None)
        self._recent[artifact.version] = artifact
        while len(self._recent) > KEEP:
            del self._recent[next(iter(self._recent))]

    def _refuse(self, version: str, exc: Exception) -> bool:
        keeping = self.state.version or self.without
        if isinstance(exc, REFUSED):
            self.state.failed_version = version
        else:  # not about the version: tried again soon
            self._next_check_ms = self.clock.now_ms() + RETRY_MS
            self._retry = True
        self._report(f"cannot load {version}: {exc}; still scoring with {keeping}")
        return False

    def _report(self, message: str) -> None:
        self.state.error = message
        if self.metrics is not None:
            self.metrics.model_load_failures.inc()
        log.error("%s (%s)", message, self.alias)


def registry_models(
    settings: Settings,
    backends: Backends,
    serde: Serde,
    clock: Clock = SYSTEM_CLOCK,
    metrics: ModelMetrics | None = None,
    background: bool = True,
) -> RegistryModels:
    """The configured alias of the model registry on ``backends``, following model-events."""
    detector = settings.detector
    return RegistryModels(
        ModelRegistry(backends.state, clock),
        EventFollower(backends.broker, serde, Topics.from_settings(settings)),
        alias=detector.model_alias,
        check_s=detector.model_check_s,
        clock=clock,
        metrics=metrics,
        background=background,
    )
