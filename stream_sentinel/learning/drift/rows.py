"""One version's feature-log rows of a batch as columns, and how DB4 keeps them (npy blocks)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from stream_sentinel.logic.features import FEATURES

WIDTH = len(FEATURES)


@dataclass
class Rows:
    """One version's applying rows of a batch, as columns."""

    partition: np.ndarray
    ts: np.ndarray
    features: np.ndarray  # [n, len(FEATURES)]
    scores: np.ndarray

    def take(self, mask: np.ndarray) -> Rows:
        return Rows(self.partition[mask], self.ts[mask], self.features[mask], self.scores[mask])

    def matrix(self) -> np.ndarray:
        """Features, score, event time and partition as one float matrix (what DB4 keeps)."""
        return np.column_stack([self.features, self.scores, self.ts, self.partition])

    @classmethod
    def of_matrix(cls, matrix: np.ndarray) -> Rows:
        return cls(
            matrix[:, WIDTH + 2].astype(np.int64),
            matrix[:, WIDTH + 1].astype(np.int64),
            matrix[:, :WIDTH],
            matrix[:, WIDTH],
        )


def rows_of(found: list[tuple[int, int, Sequence[float], float]]) -> Rows:
    partitions, ts, vectors, scores = zip(*found, strict=True)
    return Rows(
        np.asarray(partitions, dtype=np.int64),
        np.asarray(ts, dtype=np.int64),
        np.asarray(vectors, dtype=np.float64).reshape(len(found), WIDTH),
        np.asarray(scores, dtype=np.float64),
    )


def no_rows() -> Rows:
    return Rows(np.empty(0, np.int64), np.empty(0, np.int64), np.empty((0, WIDTH)), np.empty(0))


def to_npy(matrix: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(matrix, dtype="<f8"), allow_pickle=False)
    return buffer.getvalue()


def from_npy(blob: bytes) -> np.ndarray:
    return np.load(io.BytesIO(blob), allow_pickle=False)
