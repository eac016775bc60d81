"""The backoff policy, the retry helper, and each loop built on them: the same attempts, waits
and give-up messages as the hand-written loops they replaced, without a real sleep."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import pytest
import redis

from stream_sentinel.clock import ManualClock
from stream_sentinel.config import load_settings
from stream_sentinel.errors import ServiceUnavailable, TransportError
from stream_sentinel.registry_server.service import open_core, open_log
from stream_sentinel.registry_server.state import LogRecord
from stream_sentinel.registry_server.store import LogEntry
from stream_sentinel.state.redis import RedisStateStore
from stream_sentinel.transport import kafka_admin
from stream_sentinel.transport.base import Admin, TopicSpec
from stream_sentinel.transport.memory import MemoryBroker
from stream_sentinel.transport.retry import Backoff, retrying

pytestmark = pytest.mark.unit


class RecordingClock(ManualClock):
    """A manual clock that remembers every wait it was asked for."""

    def __init__(self) -> None:
        super().__init__()
        self.waits: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        super().sleep(seconds)


class Flaky:
    """A call that fails with ``errors`` in turn, then returns ``result``; counts its calls."""

    def __init__(self, errors: Sequence[Exception], result: Any = "ok") -> None:
        self.errors = list(errors)
        self.result = result
        self.calls = 0

    def __call__(self) -> Any:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return self.result


# -- the policy -----------------------------------------------------------------------------------
def test_waits_double_from_the_first_up_to_the_cap() -> None:
    backoff = Backoff(first_s=0.1, max_s=2.0)
    assert [backoff.delay(n) for n in range(1, 9)] == [0.1, 0.2, 0.4, 0.8, 1.6, 2.0, 2.0, 2.0]


def test_an_attempt_limit_gives_up_after_that_many_calls() -> None:
    backoff = Backoff(first_s=0.5, max_s=1.0, attempts=3)
    assert [backoff.delay(n) for n in (1, 2, 3, 4)] == [0.5, 1.0, None, None]


def test_one_attempt_never_waits() -> None:
    assert Backoff(first_s=0.1, max_s=2.0, attempts=1).delay(1) is None


def test_a_budget_gives_up_when_the_next_wait_would_end_past_it() -> None:
    backoff = Backoff(first_s=0.2, max_s=2.0, budget_s=1.0)
    assert backoff.delay(2, elapsed_s=0.6) == 0.4  # ends at 1.0: still inside
    assert backoff.delay(2, elapsed_s=0.61) is None
    assert backoff.delay(3, elapsed_s=0.0) == 0.8


def test_a_thousandth_attempt_is_still_capped_not_an_overflow() -> None:
    assert Backoff(first_s=0.05, max_s=0.05).delay(1_000) == 0.05


def test_the_policy_is_a_value() -> None:
    backoff = Backoff(first_s=0.1, max_s=2.0, attempts=5)
    assert backoff == Backoff(0.1, 2.0, 5)
    with pytest.raises(AttributeError):
        backoff.attempts = 6  # type: ignore[misc]


# -- the helper -----------------------------------------------------------------------------------
def test_retrying_waits_what_the_policy_says_between_calls() -> None:
    clock = RecordingClock()
    call = Flaky([OSError("refused"), OSError("refused")], result="PONG")
    assert retrying(call, Backoff(0.1, 2.0), retriable=(OSError,), clock=clock) == "PONG"
    assert call.calls == 3
    assert clock.waits == [0.1, 0.2]


def test_retrying_reraises_the_last_error_when_the_policy_gives_up() -> None:
    clock = RecordingClock()
    last = OSError("refused for the third time")
    call = Flaky([OSError("first"), OSError("second"), last, OSError("never reached")])
    with pytest.raises(OSError) as caught:
        retrying(call, Backoff(0.1, 2.0, attempts=3), retriable=(OSError,), clock=clock)
    assert caught.value is last
    assert call.calls == 3
    assert clock.waits == [0.1, 0.2]


def test_an_error_that_is_not_retriable_propagates_at_once() -> None:
    clock = RecordingClock()
    call = Flaky([ValueError("a bug, not an outage")])
    with pytest.raises(ValueError, match="a bug, not an outage"):
        retrying(call, Backoff(0.1, 2.0), retriable=(OSError,), clock=clock)
    assert call.calls == 1
    assert clock.waits == []


def test_on_retry_hears_each_failure_before_its_wait() -> None:
    heard: list[tuple[str, int, float]] = []
    call = Flaky([OSError("a"), OSError("b")])
    retrying(
        call,
        Backoff(0.25, 1.0),
        retriable=(OSError,),
        clock=RecordingClock(),
        on_retry=lambda exc, attempt, wait: heard.append((str(exc), attempt, wait)),
    )
    assert heard == [("a", 1, 0.25), ("b", 2, 0.5)]


def test_the_budget_counts_the_time_the_calls_take() -> None:
    clock = RecordingClock()

    def slow_failure() -> None:
        clock.advance(0.5)  # each call takes half a second before it fails
        raise OSError("timed out")

    with pytest.raises(OSError):
        retrying(slow_failure, Backoff(0.2, 2.0, budget_s=1.0), retriable=(OSError,), clock=clock)
    # call 1 ends at 0.5 (+0.2 = 0.7 fits), call 2 ends at 1.2: 1.2 + 0.4 is past the budget
    assert clock.waits == [0.2]


# -- Redis: attempts from the settings, backoff doubling to its cap -----------------------------
class FakeRedis:
    """Stands in for redis.Redis: ``info`` fails with the given errors first."""

    def __init__(self, errors: Sequence[Exception]) -> None:
        self.info = Flaky(errors, result={"used_memory": 1024, "redis_version": "7.4.0"})

    def close(self) -> None:
        return None


def redis_store(
    monkeypatch: pytest.MonkeyPatch, errors: Sequence[Exception], clock: ManualClock, **fields: Any
) -> tuple[RedisStateStore, FakeRedis]:
    fake = FakeRedis(errors)
    monkeypatch.setattr(redis.Redis, "from_url", lambda *_, **__: fake)
    settings = load_settings("development", environ={}, overrides={"redis": fields})
    return RedisStateStore(settings.redis, clock), fake


def test_redis_retries_an_outage_and_logs_each_wait(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    clock = RecordingClock()
    refused = redis.ConnectionError("Connection refused")
    store, fake = redis_store(monkeypatch, [refused, refused], clock, retry_attempts=5)
    with caplog.at_level(logging.WARNING, "stream_sentinel.state.redis"):
        assert store.info().used_memory == 1024
    assert fake.info.calls == 3
    assert clock.waits == [0.1, 0.2]
    assert [r.getMessage() for r in caplog.records] == [
        "Redis info failed (Connection refused); retrying in 0.1s (1/5)",
        "Redis info failed (Connection refused); retrying in 0.2s (2/5)",
    ]


def test_redis_gives_up_after_the_configured_attempts_saying_what_to_check(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = RecordingClock()
    errors = [redis.TimeoutError("Timeout reading from socket")] * 20
    store, fake = redis_store(monkeypatch, errors, clock, url="redis://:pw@cache:6380")
    with pytest.raises(ServiceUnavailable) as caught:
        store.info()
    assert str(caught.value) == (
        "Redis at redis://:***@cache:6380 is unavailable after 20 attempts (Timeout reading from "
        "socket). Is it running? `stream-sentinel infra status` shows the local one; "
        "SENTINEL_REDIS_URL points elsewhere."
    )
    assert fake.info.calls == 20
    assert clock.waits == [0.1, 0.2, 0.4, 0.8, 1.6] + [2.0] * 14


def test_redis_backoff_follows_its_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = RecordingClock()
    errors = [redis.BusyLoadingError("Redis is loading the dataset in memory")] * 4
    store, fake = redis_store(
        monkeypatch, errors, clock, retry_attempts=4, retry_backoff_s=0.5, retry_backoff_max_s=1.5
    )
    with pytest.raises(ServiceUnavailable, match="unavailable after 4 attempts"):
        store.info()
    assert fake.info.calls == 4
    assert clock.waits == [0.5, 1.0, 1.5]


def test_redis_does_not_retry_a_command_it_rejects(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = RecordingClock()
    store, fake = redis_store(monkeypatch, [redis.ResponseError("NOPERM")], clock)
    with pytest.raises(redis.ResponseError, match="NOPERM"):
        store.info()
    assert fake.info.calls == 1
    assert clock.waits == []


# -- Kafka admin: new topics looked for in metadata every 50 ms until the timeout --------------
class FakeMetadata:
    def __init__(self, topics: dict[str, Any]) -> None:
        self.topics = topics


class FakeTopic:
    partitions = {0: object()}


class Done:
    def result(self) -> None:
        return None


class FakeAdminClient:
    """confluent-kafka's AdminClient as far as create_topics goes; the topic shows in metadata
    from the ``shows_after``-th metadata request on."""

    shows_after = 3

    def __init__(self, config: dict[str, Any]) -> None:
        self.metadata_requests = 0

    def create_topics(self, new: list[Any], request_timeout: float) -> dict[str, Done]:
        return {topic.topic: Done() for topic in new}

    def list_topics(self, timeout: float) -> FakeMetadata:
        self.metadata_requests += 1
        shown = self.metadata_requests >= self.shows_after
        return FakeMetadata({"payments": FakeTopic()} if shown else {})


def fake_admin(
    monkeypatch: pytest.MonkeyPatch, clock: ManualClock, timeout_s: float, shows_after: int
) -> tuple[kafka_admin.KafkaAdmin, FakeAdminClient]:
    monkeypatch.setattr(FakeAdminClient, "shows_after", shows_after)
    monkeypatch.setattr(kafka_admin, "AdminClient", FakeAdminClient)
    admin = kafka_admin.KafkaAdmin({}, timeout_s, clock)
    return admin, admin._admin  # type: ignore[return-value]


def test_create_topics_waits_until_they_show_in_metadata(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = RecordingClock()
    admin, client = fake_admin(monkeypatch, clock, timeout_s=15.0, shows_after=3)
    assert admin.create_topics([TopicSpec("payments", 3)]) == {"payments": True}
    assert client.metadata_requests == 3
    assert clock.waits == [0.05, 0.05]


def test_topics_missing_from_metadata_at_the_timeout_are_reported(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = RecordingClock()
    admin, client = fake_admin(monkeypatch, clock, timeout_s=0.175, shows_after=1_000)
    with pytest.raises(TransportError) as caught:
        admin.create_topics([TopicSpec("payments", 3)])
    assert str(caught.value) == "topics ['payments'] did not appear in metadata in time"
    # looked at 0, 0.05, 0.10 and 0.15 s; the next look would be past 0.175 s
    assert client.metadata_requests == 4
    assert clock.waits == [0.05, 0.05, 0.05]


# -- the registry service: waits from 0.2 s doubling to 2 s, within the start-up timeout ----------
class FailingLog:
    """A schema log whose reads fail with ``errors`` first, then hold nothing."""

    def __init__(self, errors: Sequence[Exception]) -> None:
        self.errors = list(errors)
        self.reads = 0

    def end_offset(self, timeout_s: float | None = None) -> int:
        self.reads += 1
        if self.errors:
            raise self.errors.pop(0)
        return 0

    def read_from(self, position: int, timeout_s: float) -> tuple[list[LogEntry], int]:
        return [], position

    def append(self, records: Sequence[LogRecord]) -> int:
        return 0

    def close(self) -> None:
        return None


def test_the_registry_core_is_rebuilt_once_kafka_answers(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = RecordingClock()
    log = FailingLog([TransportError("broker down"), ServiceUnavailable("still down")])
    with caplog.at_level(logging.WARNING, "stream_sentinel.registry_server.service"):
        core = open_core(log, timeout_s=30.0, clock=clock)
    assert log.reads == 3
    assert core.subjects() == []
    assert clock.waits == [0.2, 0.4]
    assert [r.getMessage() for r in caplog.records] == [
        "registry store not ready (broker down); retrying in 0.2 s",
        "registry store not ready (still down); retrying in 0.4 s",
    ]


def test_the_registry_gives_up_when_the_next_wait_would_pass_the_timeout() -> None:
    clock = RecordingClock()
    log = FailingLog([TransportError(f"broker down ({n})") for n in range(1, 10)])
    with pytest.raises(ServiceUnavailable) as caught:
        open_core(log, timeout_s=1.0, clock=clock)
    assert str(caught.value) == (
        "the schema registry could not load its state from Kafka: broker down (3)"
    )
    assert log.reads == 3  # at 0, 0.2 and 0.6 s; waiting 0.8 s more would end at 1.4 s
    assert clock.waits == [0.2, 0.4]


class SlowBroker(MemoryBroker):
    """The embedded broker, whose admin client refuses the first ``refusals`` requests."""

    def __init__(self, refusals: int) -> None:
        super().__init__()
        self.refusals = refusals

    def admin(self) -> Any:
        if self.refusals:
            self.refusals -= 1
            raise TransportError("broker metadata request failed: Local: Broker transport failure")
        admin: Admin = super().admin()
        return admin


def test_the_schemas_topic_is_created_once_kafka_answers() -> None:
    clock = RecordingClock()
    settings = load_settings("test", environ={})
    broker = SlowBroker(refusals=3)
    open_log(settings, broker, clock)
    assert list(broker.admin().describe_topics()) == ["_schemas"]
    assert clock.waits == [0.2, 0.4, 0.8]
