"""The feedback store's contract on the embedded store."""

from __future__ import annotations

import pytest

from stream_sentinel.state.memory import MemoryStateStore
from tests.contract.feedback_store_contract import FeedbackStoreContract


class TestMemoryFeedbackStore(FeedbackStoreContract):
    @pytest.fixture
    def store(self) -> MemoryStateStore:
        return MemoryStateStore()
