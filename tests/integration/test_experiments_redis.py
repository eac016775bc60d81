"""The experiments store's contract on real Redis (DB5)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from stream_sentinel.config import Settings
from stream_sentinel.state.redis import RedisStateStore
from tests.contract.experiment_store_contract import ExperimentStoreContract

pytestmark = pytest.mark.integration


@pytest.fixture
def store(settings: Settings) -> Iterator[RedisStateStore]:
    store = RedisStateStore(settings.redis)
    yield store
    store.clear()
    store.close()


class TestRedisExperimentStore(ExperimentStoreContract):
    pass
