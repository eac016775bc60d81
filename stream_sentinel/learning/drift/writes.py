"""A batch's DB4 writes, per input partition of the loop's guarded state batches."""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from stream_sentinel.state.base import Batch
from stream_sentinel.stream.handler import Step


class StepWrites:
    """A step's state writes: per partition, for the batch's lead partition, or for every
    partition of the batch (values that are the same whichever batch lands)."""

    def __init__(self, step: Step, lead: int, partitions: list[int]) -> None:
        self.step, self._lead = step, lead
        self._partitions = sorted(set(partitions))
        self._blocks: dict[str, list[np.ndarray]] = defaultdict(list)

    def on(self, partition: int) -> Batch:
        """The batch of ``partition``'s guarded write (the lead's for a partition with no
        record in the batch: only consumed partitions have a write)."""
        if partition not in self._partitions:
            partition = self._lead
        return self.step.state.setdefault(partition, Batch())

    def lead(self) -> Batch:
        return self.on(self._lead)

    def everywhere(self) -> list[Batch]:
        return [self.on(partition) for partition in self._partitions]

    def keep_block(self, version: str, matrix: np.ndarray) -> None:
        self._blocks[version].append(matrix)

    def pending_blocks(self, version: str) -> list[np.ndarray]:
        """Reference rows this batch keeps, not yet in DB4."""
        return list(self._blocks[version])
