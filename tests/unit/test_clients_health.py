"""The broker's and the store's health calls raise typed errors, and the start-up preflight turns
them into its messages (address, reason, what to do) without importing a client library."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from stream_sentinel.clients.backends import RealClients
from stream_sentinel.config import Settings, load_settings
from stream_sentinel.errors import ServiceUnavailable, StateError
from stream_sentinel.ops import preflight
from stream_sentinel.transport import kafka

pytestmark = pytest.mark.unit

HOW = "start the local stack with `stream-sentinel infra up`, or set"


class PingingRedis:
    """Stands in for redis.Redis: ``ping`` raises ``error`` (or answers True)."""

    def __init__(self, error: Exception | None) -> None:
        self.error = error
        self.pings = 0

    def ping(self) -> bool:
        self.pings += 1
        if self.error is not None:
            raise self.error
        return True

    def close(self) -> None:
        return None


def redis_answering(monkeypatch: pytest.MonkeyPatch, error: Exception | None) -> PingingRedis:
    fake = PingingRedis(error)
    monkeypatch.setattr(redis.Redis, "from_url", lambda *_, **__: fake)
    return fake


@pytest.fixture
def listener() -> Iterator[int]:
    """A port something listens on (the preflight's TCP check passes; nothing answers more)."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        yield server.getsockname()[1]


def settings_with(**environ: str) -> Settings:
    return load_settings("development", environ=environ)


class Probe:
    """Stands in for ``probe_kafka``: answers ``answer`` and remembers each timeout asked."""

    def __init__(self, answer: bool) -> None:
        self.answer = answer
        self.timeouts: list[float] = []

    def __call__(self, _settings: Any, timeout_s: float) -> bool:
        self.timeouts.append(timeout_s)
        return self.answer


# -- the store's health call ---------------------------------------------------------------------
def test_a_redis_that_answers_is_healthy(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = redis_answering(monkeypatch, None)
    RealClients(settings_with()).state().check_health()
    assert fake.pings == 1


def test_an_unreachable_redis_is_unavailable_once_not_retried(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = redis_answering(monkeypatch, redis.ConnectionError("Connection reset by peer"))
    with pytest.raises(ServiceUnavailable) as caught:
        RealClients(settings_with()).state().check_health()
    assert (str(caught.value), fake.pings) == ("Connection reset by peer", 1)


def test_an_error_without_words_is_named_by_its_type(monkeypatch: pytest.MonkeyPatch) -> None:
    redis_answering(monkeypatch, redis.TimeoutError())
    with pytest.raises(ServiceUnavailable) as caught:
        RealClients(settings_with()).state().check_health()
    assert str(caught.value) == "TimeoutError"


@pytest.mark.parametrize(
    "error",
    [
        redis.AuthenticationError("invalid username-password pair"),
        redis.ResponseError("NOAUTH Authentication required."),
    ],
)
def test_a_redis_that_refuses_us_is_a_state_error(
    monkeypatch: pytest.MonkeyPatch, error: Exception
) -> None:
    redis_answering(monkeypatch, error)
    with pytest.raises(StateError) as caught:
        RealClients(settings_with()).state().check_health()
    assert str(caught.value) == str(error)


# -- the broker's health call --------------------------------------------------------------------
def test_a_broker_that_does_not_answer_is_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    probe = Probe(answer=False)
    monkeypatch.setattr(kafka, "probe_kafka", probe)
    broker = RealClients(settings_with(SENTINEL_KAFKA_BOOTSTRAP="kafka.test:9092")).broker()
    with pytest.raises(ServiceUnavailable) as caught:
        broker.check_health(2.5)
    assert str(caught.value) == "no Kafka broker at kafka.test:9092 answered within 2.5 s"
    assert probe.timeouts == [2.5]


def test_a_broker_that_answers_is_healthy(monkeypatch: pytest.MonkeyPatch) -> None:
    probe = Probe(answer=True)
    monkeypatch.setattr(kafka, "probe_kafka", probe)
    RealClients(settings_with()).broker().check_health()
    assert probe.timeouts == [2.0]


# -- the preflight keeps its words ---------------------------------------------------------------
def test_preflight_names_a_redis_that_refuses_us(
    monkeypatch: pytest.MonkeyPatch, listener: int
) -> None:
    redis_answering(monkeypatch, redis.AuthenticationError("invalid password"))
    settings = settings_with(SENTINEL_REDIS_URL=f"redis://:pw@127.0.0.1:{listener}")
    assert preflight.redis_problem(settings) == ("it refused us: invalid password", False)
    with pytest.raises(ServiceUnavailable) as caught:
        preflight.require_services(settings, kafka=False, registry=False)
    assert str(caught.value) == (
        f"Redis at redis://:***@127.0.0.1:{listener} (it refused us: invalid password): "
        "check SENTINEL_REDIS_PASSWORD and SENTINEL_REDIS_URL"
    )


def test_preflight_names_a_redis_that_listens_but_does_not_answer(
    monkeypatch: pytest.MonkeyPatch, listener: int
) -> None:
    redis_answering(monkeypatch, redis.TimeoutError("Timeout reading from socket"))
    settings = settings_with(SENTINEL_REDIS_URL=f"redis://127.0.0.1:{listener}")
    with pytest.raises(ServiceUnavailable) as caught:
        preflight.require_services(settings, kafka=False, registry=False)
    assert str(caught.value) == (
        f"cannot reach Redis at redis://127.0.0.1:{listener} (Timeout reading from socket): "
        f"{HOW} SENTINEL_REDIS_URL to a running one"
    )


def test_preflight_passes_a_redis_that_answers(
    monkeypatch: pytest.MonkeyPatch, listener: int
) -> None:
    redis_answering(monkeypatch, None)
    settings = settings_with(SENTINEL_REDIS_URL=f"redis://127.0.0.1:{listener}")
    assert preflight.redis_problem(settings) is None


def test_preflight_names_a_kafka_that_listens_but_does_not_answer(
    monkeypatch: pytest.MonkeyPatch, listener: int
) -> None:
    monkeypatch.setattr(kafka, "probe_kafka", Probe(answer=False))
    settings = settings_with(SENTINEL_KAFKA_BOOTSTRAP=f"127.0.0.1:{listener}")
    assert preflight.kafka_answers(settings) is False
    with pytest.raises(ServiceUnavailable) as caught:
        preflight.require_services(settings, redis=False, registry=False)
    assert str(caught.value) == (
        f"cannot reach Kafka at 127.0.0.1:{listener}: {HOW} SENTINEL_KAFKA_BOOTSTRAP to a "
        "running one"
    )


def test_preflight_asks_a_listening_broker_with_its_timeout(
    monkeypatch: pytest.MonkeyPatch, listener: int
) -> None:
    probe = Probe(answer=True)
    monkeypatch.setattr(kafka, "probe_kafka", probe)
    settings = settings_with(SENTINEL_KAFKA_BOOTSTRAP=f"127.0.0.1:{listener}")
    assert preflight.kafka_answers(settings) is True
    assert probe.timeouts == [5.0]


def test_preflight_does_not_ask_the_broker_when_nothing_listens(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    probe = Probe(answer=True)
    monkeypatch.setattr(kafka, "probe_kafka", probe)
    with socket.create_server(("127.0.0.1", 0)) as closed:
        port = closed.getsockname()[1]
    settings = settings_with(SENTINEL_KAFKA_BOOTSTRAP=f"127.0.0.1:{port}")
    assert preflight.kafka_answers(settings) is False
    assert probe.timeouts == []
