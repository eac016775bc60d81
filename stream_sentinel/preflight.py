"""Before a command starts work: do Kafka, Redis and the schema registry answer?

A long-running command that starts against a service that is not there would otherwise sit in
librdkafka's or redis-py's retries (Kafka's transactional producer for half a minute) and fail
with a message about the symptom. Checked first, the user hears at once which service is
missing, at which address, and how to start it. Once running, the commands retry an outage
themselves: these checks are for start-up only.
"""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

from stream_sentinel.config import KafkaSettings, Settings
from stream_sentinel.errors import SentinelError, ServiceUnavailable

PROBE_TIMEOUT_S = 5.0


def kafka_answers(settings: KafkaSettings, timeout_s: float = PROBE_TIMEOUT_S) -> bool:
    """True when a broker in the bootstrap list accepts a connection and answers a metadata
    request (with the configured security settings).

    A plain TCP connect first: when nothing listens we know at once, without librdkafka
    retrying (and logging) until its timeout.
    """
    from stream_sentinel.transport.kafka import probe_kafka

    addresses = [a.strip() for a in settings.bootstrap.split(",") if a.strip()]
    return any(listening(*_host_port(a, 9092)) for a in addresses) and probe_kafka(
        settings, timeout_s
    )


def redis_answers(settings: Settings) -> bool:
    """True when Redis at the configured URL answers a PING (credentials included)."""
    from stream_sentinel.state.redis import RedisStateStore

    if not listening(*_url_host_port(settings.redis.url)):
        return False
    store = RedisStateStore(settings.redis)
    try:
        return store.ping()
    finally:
        store.close()


def registry_problem(settings: Settings) -> str | None:
    """None when the schema registry lists its subjects; otherwise what went wrong."""
    from stream_sentinel.registry.factory import connect_registry

    if settings.registry.url.startswith(("http://", "https://")) and not listening(
        *_url_host_port(settings.registry.url)
    ):
        return "nothing listens there"
    try:
        registry = connect_registry(settings.registry)
    except SentinelError as exc:
        return str(exc)
    try:
        registry.subjects()
    except SentinelError as exc:
        return str(exc)
    finally:
        registry.close()
    return None


def require_services(
    settings: Settings,
    alternative: str | None = None,
    *,
    kafka: bool = True,
    redis: bool = True,
    registry: bool = True,
) -> None:
    """Raise :class:`ServiceUnavailable` naming the first service that does not answer, its
    address, and how to start it (plus ``alternative``, another way out, when given)."""
    if kafka and not kafka_answers(settings.kafka):
        _missing("Kafka", settings.kafka.bootstrap, "SENTINEL_KAFKA_BOOTSTRAP", alternative)
    if redis and not redis_answers(settings):
        _missing("Redis", settings.redis.url, "SENTINEL_REDIS_URL", alternative)
    if registry:
        problem = registry_problem(settings)
        if problem is not None:
            where = f"{settings.registry.url} ({problem})"
            _missing("the schema registry", where, "SENTINEL_REGISTRY_URL", alternative)


def _missing(service: str, where: str, variable: str, alternative: str | None) -> None:
    message = (
        f"cannot reach {service} at {where}: start the local stack with "
        f"`stream-sentinel infra up`, or set {variable} to a running one"
    )
    raise ServiceUnavailable(f"{message}; {alternative}" if alternative else message)


def listening(host: str, port: int, timeout_s: float = 2.0) -> bool:
    """True when something accepts a TCP connection at host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def _host_port(address: str, default_port: int) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    if not host:
        return address.strip("[]") or "127.0.0.1", default_port
    try:
        return host.strip("[]") or "127.0.0.1", int(port)
    except ValueError:
        return host.strip("[]"), default_port


def _url_host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    defaults = {"redis": 6379, "rediss": 6379, "http": 80, "https": 443}
    try:
        port = parts.port
    except ValueError:
        port = None
    return parts.hostname or "127.0.0.1", port or defaults.get(parts.scheme, 80)
