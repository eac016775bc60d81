"""The model registry's contract on the embedded store."""

from __future__ import annotations

import pytest

from stream_sentinel.state.memory import MemoryStateStore
from tests.contract.model_registry_contract import ModelRegistryContract


class TestMemoryModelRegistry(ModelRegistryContract):
    @pytest.fixture
    def store(self) -> MemoryStateStore:
        return MemoryStateStore()
