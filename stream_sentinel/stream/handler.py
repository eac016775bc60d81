"""What a consumer group's logic gives the loop: a :class:`Handler` turns records into a
:class:`Step` (outputs to publish, state writes per input partition).

A handler whose loop overlaps its state writes with the next batch is a :class:`StagingHandler`:
it is also told when a step is ``staged`` (outputs committed, state write still on its way).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from stream_sentinel.state.base import Batch
from stream_sentinel.transport.base import Record

Output = tuple[str, bytes | None, bytes]
"""One record to produce: topic, key, value."""


@dataclass
class Step:
    """What handling one batch produced."""

    outputs: list[Output] = field(default_factory=list)
    state: dict[int, Batch] = field(default_factory=dict)  # input partition -> state writes
    payload: Any = None  # the handler's own result, handed back in committed()
    staged: bool = False  # staged() was called: its outputs were committed before the write


class Handler(Protocol):
    def handle(self, records: Sequence[Record], applies: np.ndarray, emit: bool) -> Step:
        """Outputs and state writes for ``records``; rows where ``applies`` is False must not
        change state; with ``emit`` False (repair) no outputs are wanted."""

    def committed(self, step: Step, applied: dict[int, bool]) -> None:
        """The step's outputs are committed and its state written (applied per partition)."""

    def forget(self, partitions: list[int]) -> None:
        """These partitions now belong to another worker: drop what is cached for them."""


@runtime_checkable
class StagingHandler(Handler, Protocol):
    """A handler that can run with overlapped state writes (``overlap_writes``)."""

    def staged(self, step: Step) -> None:
        """The step's outputs are committed and its state write is under way: the next batch
        must see its effects (from the handler's cache) as if the write were done."""
