"""The demo serves its model through the run's model registry, as production does."""

from __future__ import annotations

import numpy as np
import pytest

from stream_sentinel.clock import ManualClock
from stream_sentinel.demo.model import RECIPE, serve_from_registry
from stream_sentinel.learning.registry import ModelRegistry
from stream_sentinel.state.memory import MemoryStateStore
from tests.unit.test_model_store import history, tiny_model

pytestmark = pytest.mark.unit


def test_the_demo_model_becomes_the_runs_champion_once() -> None:
    store, clock = MemoryStateStore(), ManualClock()
    served = serve_from_registry(store, tiny_model(), clock)
    again = serve_from_registry(store, tiny_model(), clock)  # a second run on the same store
    registry = ModelRegistry(store, clock)
    assert registry.aliases() == {"champion": tiny_model().version}
    [move] = registry.history()
    assert (move.actor, move.reason) == ("demo", "the demo's model")
    assert registry.get(tiny_model().version).tags["recipe"] == RECIPE
    x = history(rows=100).features
    assert served.version == again.version == tiny_model().version
    np.testing.assert_array_equal(served.predict(x), tiny_model().predict(x))
