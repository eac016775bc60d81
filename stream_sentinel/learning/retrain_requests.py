"""Retrain requests: how an operator (`learn retrain-now`) or the drift service asks the learner
for a retrain now, on any host.

A request is appended to a capped list in the model registry's database (DB3, no TTL); the
learner acknowledges requests by id: it keeps the ids it acted on of the requests still in the
list (in its own state), so a request is never lost when the learner is down, never acted on
twice, never skipped because another host's clock stamped it earlier, and no two writers race
on a delete.

>>> from stream_sentinel.clients.backends import EmbeddedClients
>>> from stream_sentinel.clock import ManualClock
>>> store = EmbeddedClients().state()
>>> first = request_retrain(store, "feature drift on amount", "drift", ManualClock(1_000))
>>> [r.reason for r in requests_waiting(store, set()).requests]
['feature drift on amount']
>>> waiting = requests_waiting(store, {first.request_id})
>>> waiting.requests, waiting.acted == [first.request_id]
([], True)
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Collection
from dataclasses import asdict, dataclass

from stream_sentinel.clock import Clock
from stream_sentinel.state.base import Batch, Namespace, StateStore

REQUESTS = "learn:retrain-requests"
#: Requests kept (newest first); older ones are dropped.
KEEP = 100


@dataclass(frozen=True, slots=True)
class RetrainRequest:
    """One ask for a retrain: when (epoch ms), why, who (``cli:<user>``, ``drift``, ...)."""

    time_ms: int
    reason: str
    actor: str
    request_id: str

    def encode(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True).encode()

    @classmethod
    def decode(cls, blob: bytes) -> RetrainRequest:
        return cls(**json.loads(blob))


def request_retrain(store: StateStore, reason: str, actor: str, clock: Clock) -> RetrainRequest:
    """Ask the learner for a retrain; returns the request as stored."""
    request = RetrainRequest(clock.now_ms(), reason, actor, uuid.uuid4().hex)
    store.execute(
        Batch()
        .lpush(Namespace.MODELS, REQUESTS, request.encode())
        .ltrim(Namespace.MODELS, REQUESTS, 0, KEEP - 1)
    )
    return request


@dataclass(frozen=True, slots=True)
class Waiting:
    """The requests not acted on yet (oldest first, in the order they were made) and the
    acted-on ids still in the capped list (what the learner keeps: the rest fell off)."""

    requests: list[RetrainRequest]
    acted: list[str]

    def acknowledged(self) -> list[str]:
        """The ids to keep once the waiting requests are acted on."""
        return self.acted + [r.request_id for r in self.requests]


def requests_waiting(store: StateStore, acted: Collection[str]) -> Waiting:
    """The requests whose ids are not in ``acted``, by id, not by time."""
    [blobs] = store.execute(Batch().lrange(Namespace.MODELS, REQUESTS, 0, -1))
    listed = [RetrainRequest.decode(blob) for blob in reversed(blobs)]  # pushed newest first
    return Waiting(
        [r for r in listed if r.request_id not in acted],
        [r.request_id for r in listed if r.request_id in acted],
    )


def requests_since(store: StateStore, after_ms: int) -> list[RetrainRequest]:
    """The requests made after ``after_ms``, oldest first."""
    [blobs] = store.execute(Batch().lrange(Namespace.MODELS, REQUESTS, 0, -1))
    found = [RetrainRequest.decode(blob) for blob in blobs]
    return sorted((r for r in found if r.time_ms > after_ms), key=lambda r: r.time_ms)
