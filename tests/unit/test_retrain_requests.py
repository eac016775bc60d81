"""Retrain requests: kept in order, read once by time, capped."""

from __future__ import annotations

import doctest

import pytest

from stream_sentinel.clock import ManualClock
from stream_sentinel.learning import retrain_requests
from stream_sentinel.learning.retrain_requests import (
    KEEP,
    request_retrain,
    requests_since,
    requests_waiting,
)
from stream_sentinel.state.memory import MemoryStateStore

pytestmark = pytest.mark.unit


def test_the_doctest_runs() -> None:
    assert doctest.testmod(retrain_requests).failed == 0


def test_requests_are_read_oldest_first_after_a_time_and_capped() -> None:
    store, clock = MemoryStateStore(), ManualClock(10_000)
    made = []
    for n in range(KEEP + 5):
        made.append(request_retrain(store, f"reason {n}", "drift", clock))
        clock.advance(1)
    every = requests_since(store, 0)
    assert [r.reason for r in every] == [f"reason {n}" for n in range(5, KEEP + 5)]
    after = requests_since(store, made[-3].time_ms)
    assert [(r.reason, r.actor, r.time_ms) for r in after] == [
        (f"reason {KEEP + 3}", "drift", 10_000 + (KEEP + 3) * 1000),
        (f"reason {KEEP + 4}", "drift", 10_000 + (KEEP + 4) * 1000),
    ]
    assert len({r.request_id for r in every}) == KEEP


def test_requests_are_acknowledged_by_id_not_by_the_time_another_host_stamped() -> None:
    store = MemoryStateStore()
    acted = request_retrain(store, "first", "cli:ana", ManualClock(20_000))
    skewed = request_retrain(store, "behind", "drift", ManualClock(10_000))  # a slow host clock
    same = request_retrain(store, "same ms", "cli:bo", ManualClock(20_000))
    waiting = requests_waiting(store, {acted.request_id, "fell-off-the-list"})
    assert [r.reason for r in waiting.requests] == ["behind", "same ms"]
    assert waiting.acted == [acted.request_id]
    assert waiting.acknowledged() == [acted.request_id, skewed.request_id, same.request_id]
    assert requests_waiting(store, waiting.acknowledged()).requests == []
