"""The model registry and the feedback store on real Redis: both contracts, and a large model."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest

from stream_sentinel.clock import ManualClock
from stream_sentinel.config import Settings
from stream_sentinel.errors import ArtifactCorrupt
from stream_sentinel.learning import keys
from stream_sentinel.learning.artifacts import CHUNK_SIZE
from stream_sentinel.learning.registry import ModelRegistry
from stream_sentinel.state.base import Batch
from stream_sentinel.state.redis import RedisStateStore
from tests.contract.feedback_store_contract import FeedbackStoreContract
from tests.contract.model_registry_contract import ModelRegistryContract, draft


@pytest.fixture
def store(settings: Settings) -> Iterator[RedisStateStore]:
    store = RedisStateStore(settings.redis)
    yield store
    store.clear()
    store.close()


class TestRedisModelRegistry(ModelRegistryContract):
    pass


class TestRedisFeedbackStore(FeedbackStoreContract):
    pass


def test_a_20_mib_artifact_round_trips_in_1_mib_chunks_and_a_flipped_byte_is_refused(
    store: RedisStateStore,
) -> None:
    registry = ModelRegistry(store, ManualClock())
    data = random.Random(7).randbytes(20 * CHUNK_SIZE + 12_345)
    version, new = registry.register(draft(), data)
    assert new and len(version.artifact.chunks) == 21
    assert registry.artifact(version) == data
    chunk = keys.chunk(version.artifact.chunks[7])
    [stored] = store.execute(Batch().get(keys.MODELS, chunk))
    flipped = stored[:100] + bytes([stored[100] ^ 1]) + stored[101:]
    store.execute(Batch().set(keys.MODELS, chunk, flipped))
    with pytest.raises(ArtifactCorrupt, match=r"chunk 7 of artifact .* is corrupt"):
        registry.artifact(version)
