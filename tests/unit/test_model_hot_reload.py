"""Hot model reload on the embedded backends: the registry's alias moves, announced on
model-events, switch a running detector between two batches; a version it cannot load is
refused and the old model keeps scoring."""

from __future__ import annotations

from dataclasses import replace
from functools import cache
from typing import Any

import pytest

from stream_sentinel.clock import ManualClock
from stream_sentinel.config import load_settings
from stream_sentinel.detector.metrics import DetectorMetrics
from stream_sentinel.detector.models import RETRY_MS, RegistryModels
from stream_sentinel.detector.worker import DetectorWorker
from stream_sentinel.errors import ServiceUnavailable, StateError
from stream_sentinel.learning import keys
from stream_sentinel.learning.model_events import AnnounceFailed, Announcer, EventFollower
from stream_sentinel.learning.models import draft_of
from stream_sentinel.learning.registry import ModelRegistry
from stream_sentinel.learning.versions import FeatureSet
from stream_sentinel.scoring.model import ModelArtifact
from stream_sentinel.scoring.train import train
from stream_sentinel.state.base import Batch, StateStore
from stream_sentinel.transport.base import TopicPartition
from tests.unit.test_detector_embedded import NOW, Pipeline, pipeline, tx
from tests.unit.test_model_store import history

pytestmark = pytest.mark.unit
__all__ = ["pipeline"]  # the fixture, shared with the detector tests
DAY_MS = 86_400_000
CHECK_S = 30.0


@cache
def model(rounds: int) -> ModelArtifact:
    """A small model; a different number of rounds is a different version."""
    rates = load_settings(environ={}).detector.band_rates
    artifact, _ = train(history(), rates, rounds=rounds)
    return artifact


class Served:
    """A pipeline, its registry (announcing on the pipeline's broker) and a detector serving
    the champion with a manual clock."""

    def __init__(self, pipeline: Pipeline, *, background: bool = False) -> None:
        self.pipeline = pipeline
        self.clock = ManualClock(NOW)
        self.announcer = Announcer(pipeline.backends.broker, pipeline.serde, pipeline.topics)
        self.registry = ModelRegistry(pipeline.backends.state, self.clock, announce=self.announcer)
        self.metrics = DetectorMetrics()
        follower = EventFollower(pipeline.backends.broker, pipeline.serde, pipeline.topics)
        self.models = RegistryModels(
            ModelRegistry(pipeline.backends.state, self.clock),
            follower,
            check_s=CHECK_S,
            clock=self.clock,
            metrics=self.metrics,
            background=background,
        )
        self.worker: DetectorWorker | None = None
        self.sent = 0

    def register(self, rounds: int) -> str:
        version, _ = self.registry.register(*draft_of(model(rounds), DAY_MS))
        return version.version

    def start(self) -> DetectorWorker:
        self.worker = self.pipeline.worker(self.models)
        return self.worker

    def batch(self, count: int = 2) -> None:
        """Send ``count`` transactions and let the worker decide them (one poll each batch)."""
        assert self.worker is not None
        for n in range(self.sent, self.sent + count):
            self.pipeline.send(tx(n, minutes=n))
        self.sent += count
        self.pipeline.drain(self.worker, self.sent)

    def versions(self) -> list[str | None]:
        return [score["model_version"] for score in self.pipeline.read("fraud-scores")]

    def metric(self, name: str) -> float:
        value = self.metrics.registry.get_sample_value(name)
        assert value is not None
        return value


@pytest.fixture
def served(pipeline: Pipeline) -> Served:
    return Served(pipeline)


def test_a_detector_starts_with_the_champion_and_switches_on_the_next_batch(
    served: Served,
) -> None:
    first, second = served.register(10), served.register(12)
    served.registry.promote(first, reason="first", actor="test")
    worker = served.start()
    assert worker.summary()["model"]["version"] == first
    served.batch()
    served.registry.promote(second, reason="better AP", actor="cli:ana")
    served.batch()
    assert served.versions() == [first, first, second, second]
    state = served.models.state
    assert (state.version, state.alias, state.move, state.swaps) == (second, "champion", 2, 2)
    assert state.error is None and state.last_pause_ms is not None
    assert served.metric("sentinel_model_swaps_total") == 2
    assert served.metrics.registry.get_sample_value("sentinel_model_info", {"version": second}) == 1
    assert (
        served.metrics.registry.get_sample_value("sentinel_model_info", {"version": first}) is None
    )


def test_every_move_is_an_event_keyed_by_its_alias(served: Served) -> None:
    first, second = served.register(10), served.register(12)
    served.registry.promote(first, reason="first", actor="test")
    served.clock.advance(5)
    served.registry.promote(second, reason="better AP", actor="cli:ana")
    served.clock.advance(5)
    served.registry.rollback(reason="alert rate doubled", actor="cli:bo")
    consumer = served.pipeline.backends.broker.consumer(None)
    consumer.assign({TopicPartition(served.pipeline.topics.model_events, 0): 0})
    records = consumer.consume(100, 0.05)
    assert [r.key() for r in records] == [b"champion"] * 3
    events = served.pipeline.read("model-events")
    picked = [
        (
            e["model_version"],
            e["event"],
            e["previous_version"],
            e["move"],
            e["reason"],
            e["actor"],
            e["time"],
            e["artifact_uri"],
        )
        for e in events
    ]
    assert picked == [
        (first, "PROMOTED", None, 1, "first", "test", NOW, f"registry:{first}"),
        (second, "PROMOTED", first, 2, "better AP", "cli:ana", NOW + 5_000, f"registry:{second}"),
        (
            first,
            "ROLLED_BACK",
            second,
            3,
            "alert rate doubled",
            "cli:bo",
            NOW + 10_000,
            f"registry:{first}",
        ),
    ]
    assert {e["alias"] for e in events} == {"champion"}


def test_a_corrupt_version_is_refused_and_the_old_model_keeps_scoring(served: Served) -> None:
    first, second = served.register(10), served.register(12)
    served.registry.promote(first, actor="test")
    served.start()
    served.batch()
    version = served.registry.get(second)
    chunk = version.artifact.chunks[0]
    served.pipeline.backends.state.execute(Batch().set(keys.MODELS, keys.chunk(chunk), b"junk"))
    served.registry.promote(second, reason="try it", actor="test")
    served.batch()
    assert served.versions() == [first] * 4
    state = served.models.state
    assert state.version == first and state.failed_version == second
    assert state.error is not None
    assert state.error.startswith(f"cannot load {second}: chunk 0 of artifact ")
    assert state.error.endswith(
        f"refusing to load it (import the model again); still scoring with {first}"
    )
    assert served.metric("sentinel_model_load_failures_total") == 1
    assert served.worker is not None
    assert served.worker.summary()["model"]["error"] == state.error
    # the periodic registry check does not hammer a refused version ...
    served.clock.advance(CHECK_S + 1)
    served.batch()
    assert served.metric("sentinel_model_load_failures_total") == 1
    # ... the next event retries it: repaired by registering the bytes again, then announced
    served.registry.register(*draft_of(model(12), DAY_MS))
    served.registry.announce_latest()
    served.batch()
    assert served.versions()[-2:] == [second, second]
    assert served.models.state.error is None and served.models.state.failed_version is None


def test_rollback_returns_the_detector_to_the_previous_version(served: Served) -> None:
    first, second = served.register(10), served.register(12)
    served.registry.promote(first, actor="test")
    served.start()
    served.registry.promote(second, actor="test")
    served.batch()
    served.registry.rollback(actor="test")
    served.batch()
    assert served.versions() == [second, second, first, first]
    assert served.models.state.move == 3


def test_a_move_that_was_never_announced_arrives_with_the_registry_check(
    served: Served,
) -> None:
    first, second = served.register(10), served.register(12)
    served.registry.promote(first, actor="test")
    served.start()
    silent = ModelRegistry(served.pipeline.backends.state, served.clock)  # announces nothing
    silent.promote(second, actor="test")
    served.batch()
    served.clock.advance(CHECK_S)
    served.batch()
    assert served.versions() == [first, first, second, second]


def test_a_record_on_model_events_that_is_not_a_model_event_still_wakes_the_detector(
    served: Served,
) -> None:
    first, second = served.register(10), served.register(12)
    served.registry.promote(first, actor="test")
    served.start()
    ModelRegistry(served.pipeline.backends.state, served.clock).promote(second, actor="test")
    producer = served.pipeline.backends.broker.producer()
    producer.produce(served.pipeline.topics.model_events, b"\x00garbage", b"champion")
    producer.flush()
    served.batch()
    assert served.versions() == [second, second]


def test_another_aliases_move_does_not_wake_a_champion_detector(served: Served) -> None:
    first, second = served.register(10), served.register(12)
    served.registry.promote(first, actor="test")
    served.start()
    ModelRegistry(served.pipeline.backends.state, served.clock).promote(second, actor="test")
    served.registry.promote(second, alias="shadow", actor="test")  # announced, other alias
    served.batch()
    assert served.versions() == [first, first]


def test_a_failed_announcement_says_the_move_landed_and_how_to_announce_again(
    pipeline: Pipeline,
) -> None:
    faults = pipeline.broker_faults()
    served = Served(pipeline)
    first = served.register(10)
    faults.fail_deliveries(1)
    with pytest.raises(AnnounceFailed) as failed:
        served.registry.promote(first, actor="test")
    assert str(failed.value) == (
        f"champion moved to {first} (move #1) in the registry, but its event did not reach "
        "model-events: Broker: Message timed out. Running detectors still switch at their next "
        "registry check (SENTINEL_DETECTOR_MODEL_CHECK_S); `stream-sentinel models announce "
        "--alias champion` publishes it again once Kafka is back"
    )
    assert served.registry.alias_state("champion") == (first, 1)
    assert served.registry.announce_latest().version == first
    assert [e["model_version"] for e in pipeline.read("model-events")] == [first]


def test_a_background_load_swaps_between_batches_once_it_is_ready(pipeline: Pipeline) -> None:
    served = Served(pipeline, background=True)
    first, second = served.register(10), served.register(12)
    served.registry.promote(first, actor="test")
    served.start()  # the first model is loaded before the first batch, in the foreground
    served.batch()
    served.registry.promote(second, actor="test")
    assert served.models.refresh() is False  # the load started; the current model stays
    assert served.models.current is not None and served.models.current.version == first
    pending = served.models._pending
    assert pending is not None and pending.version == second
    pending.future.result(timeout=60)
    assert served.models.refresh() is True
    served.batch()
    assert served.versions() == [first, first, second, second]
    assert served.models.state.last_load_ms is not None
    served.models.close()


def test_a_move_during_a_background_load_serves_the_newer_version_not_the_loaded_one(
    pipeline: Pipeline,
) -> None:
    served = Served(pipeline, background=True)
    first, second, third = served.register(10), served.register(12), served.register(14)
    served.registry.promote(first, actor="test")
    served.start()
    served.registry.promote(second, actor="test")
    assert served.models.refresh() is False  # loading the second
    served.registry.promote(third, actor="test")  # announced while the second still loads
    pending = served.models._pending
    assert pending is not None and pending.version == second
    pending.future.result(timeout=60)
    assert served.models.refresh() is False  # the second is not what the alias wants now
    assert served.models.current is not None and served.models.current.version == first
    pending = served.models._pending
    assert pending is not None and pending.version == third
    pending.future.result(timeout=60)
    assert served.models.refresh() is True
    assert served.models.state.version == third and served.models.state.move == 3
    served.models.close()


def test_a_rollback_during_a_load_never_scores_with_the_rolled_back_version(
    pipeline: Pipeline,
) -> None:
    served = Served(pipeline, background=True)
    first, second = served.register(10), served.register(12)
    served.registry.promote(first, actor="test")
    served.start()
    served.batch()
    served.registry.promote(second, actor="test")
    assert served.models.refresh() is False  # loading the second
    served.registry.rollback(actor="test")
    pending = served.models._pending
    assert pending is not None
    pending.future.result(timeout=60)
    served.batch()
    assert served.versions() == [first] * 4
    assert (served.models.state.version, served.models.state.move) == (first, 3)
    assert served.models.state.swaps == 1
    served.models.close()


def test_a_rollback_to_the_previous_version_needs_no_load(pipeline: Pipeline) -> None:
    served = Served(pipeline, background=True)
    first, second = served.register(10), served.register(12)
    served.registry.promote(first, actor="test")
    served.start()
    served.registry.promote(second, actor="test")
    assert served.models.refresh() is False
    pending = served.models._pending
    assert pending is not None
    pending.future.result(timeout=60)
    assert served.models.refresh() is True
    served.registry.rollback(actor="test")
    assert served.models.refresh() is True  # from memory, in the same call
    assert served.models._pending is None and served.models.state.version == first
    served.models.close()


def test_a_version_of_another_feature_set_is_refused(served: Served) -> None:
    first = served.register(10)
    served.registry.promote(first, actor="test")
    served.start()
    draft, data = draft_of(model(12), DAY_MS)
    other = replace(draft, feature_set=FeatureSet.of("other", ("amount", "hour")))
    version = served.registry.register(other, data)[0].version
    served.registry.promote(version, actor="test")
    served.batch()
    assert served.versions() == [first, first]
    error = served.models.state.error
    assert error is not None and error.startswith(
        f"cannot load {version}: model {version} reads 1 feature(s) this version does not compute"
    )
    assert served.models.state.failed_version == version


def test_a_missing_chunk_is_refused_and_a_later_good_move_clears_the_error(
    served: Served,
) -> None:
    first, second, third = served.register(10), served.register(12), served.register(14)
    served.registry.promote(first, actor="test")
    served.start()
    chunk = served.registry.get(second).artifact.chunks[0]
    served.pipeline.backends.state.execute(Batch().delete(keys.MODELS, keys.chunk(chunk)))
    served.registry.promote(second, actor="test")
    served.batch()
    error = served.models.state.error
    assert error is not None and "is missing from the registry" in error
    served.registry.promote(third, actor="test")
    served.batch()
    assert served.versions() == [first, first, third, third]
    assert served.models.state.error is None and served.models.state.failed_version is None


class Unanswering:
    """The store while Redis does not answer its next ``failures`` calls."""

    def __init__(self, store: StateStore, failures: int) -> None:
        self._store, self.failures = store, failures

    def execute(self, batch: Batch) -> list[Any]:
        if self.failures:
            self.failures -= 1
            raise StateError("Redis at 127.0.0.1:6379 did not answer (timed out)")
        return self._store.execute(batch)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def test_redis_not_answering_at_start_is_retried_soon_not_held_against_the_version(
    pipeline: Pipeline,
) -> None:
    served = Served(pipeline)
    first = served.register(10)
    served.registry.promote(first, actor="test")
    flaky = Unanswering(pipeline.backends.state, failures=1)
    served.models.registry = ModelRegistry(flaky, served.clock)  # type: ignore[arg-type]
    served.start()  # the registry read fails: rules only for now
    assert served.models.current is None
    assert served.models.state.error == (
        "cannot read the model registry (Redis at 127.0.0.1:6379 did not answer (timed out)); "
        "still scoring with rules only"
    )
    served.clock.advance(RETRY_MS / 1000)
    served.batch()
    assert served.versions() == [first, first]
    assert served.models.state.error is None


class Unreachable:
    """A follower whose first ``failures`` starts fail (model-events not reachable)."""

    def __init__(self, follower: EventFollower, failures: int) -> None:
        self._follower, self.failures = follower, failures

    def start(self) -> None:
        if self.failures:
            self.failures -= 1
            raise ServiceUnavailable("model-events: broker not reachable")
        self._follower.start()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._follower, name)


def test_a_follower_that_starts_late_re_reads_the_registry_when_it_does(served: Served) -> None:
    first, second = served.register(10), served.register(12)
    served.registry.promote(first, actor="test")
    assert served.models.follower is not None
    served.models.follower = Unreachable(served.models.follower, failures=1)  # type: ignore[assignment]
    served.start()
    served.registry.promote(second, actor="test")  # announced before the follower runs
    served.batch()
    assert served.versions() == [first, first]  # the follower waits RETRY_MS to try again
    served.clock.advance(RETRY_MS / 1000)
    served.batch()  # it starts, past the event: the registry read finds the move
    assert served.versions()[-2:] == [second, second]
