"""From a labelled history to a stored model: read, order by event time, replay, train."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from stream_sentinel.config import Settings
from stream_sentinel.logic.offline import OfflineReplay
from stream_sentinel.scoring.model import ModelArtifact
from stream_sentinel.scoring.train import TrainingReport, train
from stream_sentinel.wire.datafile import read_labelled

Echo = Callable[[str], None]


def train_from_records(
    records: Sequence[Mapping[str, Any]],
    labels: Sequence[int],
    label_delay_ms: int,
    settings: Settings,
    holdout: float = 0.2,
    echo: Echo | None = None,
    progress: Callable[[int, int], None] | None = None,
    source: str = "",
) -> tuple[ModelArtifact, TrainingReport]:
    """Replay ``records`` (any order) through the live feature code, then fit and evaluate."""
    order = sorted(range(len(records)), key=lambda i: records[i]["timestamp"])
    started = time.perf_counter()
    replayed = OfflineReplay(label_delay_ms).run(
        (records[i] for i in order), (labels[i] for i in order)
    )
    if echo:
        echo(
            f"replayed {len(order):,} transactions through the feature code in "
            f"{time.perf_counter() - started:.1f} s; training ..."
        )
    return train(replayed, settings.detector.band_rates, holdout, progress=progress, source=source)


def train_from_file(
    path: Path,
    label_column: str,
    label_delay_ms: int,
    settings: Settings,
    holdout: float = 0.2,
    echo: Echo | None = None,
) -> tuple[ModelArtifact, TrainingReport]:
    started = time.perf_counter()
    records, labels = [], []
    for record, label in read_labelled(path, label_column):
        records.append(record)
        labels.append(label)
    if echo:
        echo(
            f"read {len(records):,} transactions ({sum(labels):,} fraud) from {path} in "
            f"{time.perf_counter() - started:.1f} s"
        )
    return train_from_records(
        records, labels, label_delay_ms, settings, holdout, echo, source=str(path)
    )
