"""Shared by the demo's unit tests: a real but tiny model carrying the demo's recipe."""

from __future__ import annotations

from functools import cache

from stream_sentinel.config import load_settings
from stream_sentinel.demo.model import RECIPE
from stream_sentinel.generator import SimulationConfig, Simulator
from stream_sentinel.scoring.model import ModelArtifact
from stream_sentinel.scoring.workflow import train_from_records
from stream_sentinel.wire import records as avro

NOW = 1_767_225_600_000  # 2026-01-01T00:00:00Z
DAY_MS = 86_400_000


@cache
def _trained() -> tuple[str, ModelArtifact]:
    simulator = Simulator(
        SimulationConfig(users=300, fraud_rate=0.05, start_ms=NOW - DAY_MS, end_ms=NOW), 3
    )
    batch = simulator.next_batch(100_000)
    records = [avro.to_dict(tx) for tx in simulator.transactions(batch)]
    artifact, _ = train_from_records(
        records,
        batch.is_fraud.astype(int).tolist(),
        1_800_000,
        load_settings("test", environ={}),
        source=RECIPE,
    )
    return artifact.version, artifact


def tiny_model() -> ModelArtifact:
    """A fresh copy (tests may change its metadata) of a model trained once, in a second."""
    _, artifact = _trained()
    return ModelArtifact(
        artifact.version,
        artifact.booster,
        artifact.features,
        artifact.bands,
        dict(artifact.metadata),
    )
