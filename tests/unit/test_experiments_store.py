"""The experiments store's contract on the embedded store."""

from __future__ import annotations

import pytest

from stream_sentinel.state.memory import MemoryStateStore
from tests.contract.experiment_store_contract import ExperimentStoreContract


class TestMemoryExperimentStore(ExperimentStoreContract):
    @pytest.fixture
    def store(self) -> MemoryStateStore:
        return MemoryStateStore()
