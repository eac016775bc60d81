"""Retrain requests: how an operator (`learn retrain-now`) or the drift service asks the learner
for a retrain now, on any host.

A request is appended to a capped list in the model registry's database (DB3, no TTL); the
learner reads the requests newer than the last one it acted on (it keeps that time in its own
state), so a request is never lost when the learner is down and never acted on twice, and no
two writers race on a delete.

>>> from stream_sentinel.clients.backends import EmbeddedClients
>>> from stream_sentinel.clock import ManualClock
>>> store = EmbeddedClients().state()
>>> first = request_retrain(store, "feature drift on amount", "drift", ManualClock(1_000))
>>> [r.reason for r in requests_since(store, 0)], requests_since(store, first.time_ms)
(['feature drift on amount'], [])
"""

from __future__ import annotations

import json
import uuid
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


def requests_since(store: StateStore, after_ms: int) -> list[RetrainRequest]:
    """The requests made after ``after_ms``, oldest first."""
    [blobs] = store.execute(Batch().lrange(Namespace.MODELS, REQUESTS, 0, -1))
    found = [RetrainRequest.decode(blob) for blob in blobs]
    return sorted((r for r in found if r.time_ms > after_ms), key=lambda r: r.time_ms)
