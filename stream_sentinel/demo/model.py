"""The demo's model: trained once on a generated labelled history, then reused.

The history is a fixed recipe (10,000 simulated customers, four days, its own seed, ending
2025-01-01), so every machine trains the same model, byte for byte, and the live run never scores
the customers it learned from. Training is the production path: the history is replayed through
the live feature code (:mod:`stream_sentinel.logic.offline`) and fitted by
:func:`stream_sentinel.scoring.workflow.train_from_records`.

The model is kept in ``<cache_dir>/demo-models`` (``~/.cache/stream-sentinel/demo-models``):
outside the work tree, so nothing lands in git or is lost by ``make clean``, shared by every clone,
and apart from the stack's model registry, which the real detectors serve from, so a model trained
on synthetic data is never promoted there behind the operator's back (``stream-sentinel models
import`` registers it on purpose). A cached model trained on another recipe or feature set is
retrained. Each run registers the model in its own model registry (the embedded store, or the run's
Redis keys) and serves the champion from there, hash-verified, as production does.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from stream_sentinel.clock import Clock
from stream_sentinel.config import Settings
from stream_sentinel.demo.scenario import FRAUD_RATE, LABELS
from stream_sentinel.errors import ModelError
from stream_sentinel.generator import SimulationConfig, Simulator
from stream_sentinel.generator.request import DATASET_END_MS
from stream_sentinel.learning.aliases import CHAMPION
from stream_sentinel.learning.models import champion_model, draft_of
from stream_sentinel.learning.registry import ModelRegistry
from stream_sentinel.scoring.model import ModelArtifact
from stream_sentinel.scoring.serving import ServingModel
from stream_sentinel.scoring.store import ModelStore
from stream_sentinel.scoring.train import ROUNDS
from stream_sentinel.state.base import StateStore
from stream_sentinel.wire import records as avro

DAY_MS = 86_400_000
HISTORY_USERS = 10_000
HISTORY_DAYS = 4
HISTORY_SEED = 2024
HISTORY_BATCH = 20_000
RECIPE = (
    f"demo history v1: {HISTORY_USERS} users, {HISTORY_DAYS} days to 2025-01-01, "
    f"fraud rate {FRAUD_RATE:g}, seed {HISTORY_SEED}"
)


def demo_model_dir(settings: Settings) -> Path:
    return Path(settings.infra.cache_dir).expanduser() / "demo-models"


class TrainingProgress(Protocol):
    """Where training reports what it is doing (a progress bar, or plain lines)."""

    def stage(self, description: str, total: int | None) -> None:
        """A new stage begins (``total`` steps; None: no measure of progress)."""

    def advance(self, completed: int) -> None:
        """The current stage has completed this many of its steps."""

    def done(self, message: str) -> None:
        """Training is over; ``message`` says what came out."""


@dataclass(frozen=True, slots=True)
class DemoModel:
    artifact: ModelArtifact
    trained_now: bool
    directory: Path

    @property
    def report(self) -> dict[str, Any]:
        report: dict[str, Any] = self.artifact.metadata.get("report", {})
        return report


def cached_model(store: ModelStore) -> ModelArtifact | None:
    """The stored demo model, or None when there is none or it is stale (another recipe or
    feature set)."""
    try:
        artifact = store.load_current()
    except ModelError:
        return None
    if artifact is None or artifact.metadata.get("source") != RECIPE:
        return None
    return artifact


def ensure_model(
    settings: Settings, progress: TrainingProgress, notice: Callable[[str], None]
) -> DemoModel:
    """The demo model: the cached one, or a new one trained (and stored) first."""
    directory = demo_model_dir(settings)
    store = ModelStore(directory)
    artifact = cached_model(store)
    if artifact is not None:
        return DemoModel(artifact, False, directory)
    why = (
        f"the demo model in {directory} was made by another recipe or feature set"
        if store.current_version()
        else f"no demo model in {directory} yet"
    )
    notice(
        f"{why}: training one first on {HISTORY_DAYS} simulated days of labelled history "
        f"({HISTORY_USERS:,} customers). This happens once; later demos reuse it."
    )
    artifact = train_demo_model(settings, progress)
    store.publish(artifact)
    return DemoModel(artifact, True, directory)


def serve_from_registry(store: StateStore, artifact: ModelArtifact, clock: Clock) -> ServingModel:
    """Register the demo model in the run's model registry, make it champion, and return the
    champion as the registry loads it (hash-verified): the demo serves the way production does."""
    registry = ModelRegistry(store, clock)
    version, _ = registry.register(*draft_of(artifact, LABELS.delay_ms, tags={"recipe": RECIPE}))
    if registry.aliases().get(CHAMPION) != version.version:
        registry.promote(version.version, CHAMPION, "the demo's model", actor="demo")
    champion = champion_model(registry)
    if champion is None:  # promoted just above; only a store that drops writes gets here
        raise ModelError("the demo's model registry lost its champion")
    return champion


def train_demo_model(settings: Settings, progress: TrainingProgress) -> ModelArtifact:
    """Generate the labelled history and train on it through the production training path."""
    from stream_sentinel.scoring.workflow import train_from_records

    started = time.perf_counter()
    history, labels = generate_history(progress)
    progress.stage("replaying the history through the live feature code", None)

    def boosting(done: int, total: int) -> None:
        progress.advance(done)

    def replayed(_: str) -> None:
        progress.stage("fitting LightGBM", ROUNDS)

    artifact, report = train_from_records(
        history, labels, LABELS.delay_ms, settings, echo=replayed, progress=boosting, source=RECIPE
    )
    progress.done(
        f"model {artifact.version} trained on {report.rows:,} transactions "
        f"({sum(labels):,} fraud) in {time.perf_counter() - started:.0f} s: held-out ROC AUC "
        f"{report.auc:.3f}, average precision {report.average_precision:.3f}"
    )
    return artifact


def history_config() -> SimulationConfig:
    end = DATASET_END_MS
    return SimulationConfig(
        users=HISTORY_USERS,
        fraud_rate=FRAUD_RATE,
        start_ms=end - HISTORY_DAYS * DAY_MS,
        end_ms=end,
        labels=LABELS,
    )


def generate_history(progress: TrainingProgress) -> tuple[list[dict[str, Any]], list[int]]:
    """The recipe's transactions as decoded records, and their ground truth (1 = fraud)."""
    config = history_config()
    simulator = Simulator(config, seed=HISTORY_SEED)
    span = (config.end_ms or config.start_ms) - config.start_ms
    progress.stage(f"generating {HISTORY_DAYS} days of labelled history", 100)
    history: list[dict[str, Any]] = []
    labels: list[int] = []
    while not simulator.finished:
        batch = simulator.next_batch(HISTORY_BATCH)
        history += [avro.to_dict(tx) for tx in simulator.transactions(batch)]
        labels += batch.is_fraud.astype(int).tolist()
        progress.advance(int(100 * (simulator.now_ms - config.start_ms) / span))
    return history, labels
