"""Before a command starts work: do Kafka, Redis and the schema registry answer?

A long-running command that starts against a service that is not there would otherwise sit in
librdkafka's or redis-py's retries (Kafka's transactional producer for half a minute) and fail
with a message about the symptom. Checked first, the user hears at once which service is
missing, at which address, and how to start it. A service that answers but refuses us (wrong
credentials, a registry saying 401) is reported with its own words instead. Once running, the
commands retry an outage themselves: these checks are for start-up only.
"""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

from stream_sentinel.clients.backends import RealClients
from stream_sentinel.config import Settings
from stream_sentinel.errors import RegistryError, ServiceUnavailable, StateError

PROBE_TIMEOUT_S = 5.0


def kafka_answers(settings: Settings, timeout_s: float = PROBE_TIMEOUT_S) -> bool:
    """True when a broker in the bootstrap list accepts a connection and answers a metadata
    request (with the configured security settings).

    A plain TCP connect first: when nothing listens we know at once, without librdkafka
    retrying (and logging) until its timeout.
    """
    addresses = [a.strip() for a in settings.kafka.bootstrap.split(",") if a.strip()]
    if not any(listening(*_host_port(a, 9092)) for a in addresses):
        return False
    try:
        RealClients(settings).broker().check_health(timeout_s)
    except ServiceUnavailable:
        return False
    return True


def redis_problem(settings: Settings) -> tuple[str, bool] | None:
    """None when Redis answers a PING; else (what went wrong, whether it is unreachable rather
    than refusing us)."""
    parts = urlsplit(settings.redis.url)
    if parts.scheme != "unix" and not listening(*_url_host_port(settings.redis.url)):
        return "nothing listens there", True
    store = RealClients(settings.with_overrides(redis={"socket_timeout_s": 5.0})).state()
    try:
        store.check_health()
    except StateError as exc:
        return f"it refused us: {exc}", False
    except ServiceUnavailable as exc:
        return str(exc), True
    finally:
        store.close()
    return None


def registry_answers(settings: Settings) -> bool:
    """True when the schema registry lists its subjects; False when it cannot be reached. One
    that answers with an error (401) or a malformed URL in the settings raises, saying so."""
    url = settings.registry.url
    if url.startswith(("http://", "https://")) and not listening(*_url_host_port(url)):
        return False
    registry = RealClients(settings).registry()
    try:
        registry.subjects()
    except ServiceUnavailable:
        return False
    except RegistryError as exc:
        raise ServiceUnavailable(
            f"the schema registry at {settings.registry.shown_url} refused us ({exc}): check "
            "SENTINEL_REGISTRY_USERNAME, SENTINEL_REGISTRY_PASSWORD and SENTINEL_REGISTRY_URL"
        ) from exc
    finally:
        registry.close()
    return True


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
    if kafka and not kafka_answers(settings):
        _missing("Kafka", settings.kafka.bootstrap, "SENTINEL_KAFKA_BOOTSTRAP", alternative)
    if redis:
        problem = redis_problem(settings)
        if problem is not None:
            reason, unreachable = problem
            where = f"{settings.redis.shown_url} ({reason})"
            if not unreachable:
                raise ServiceUnavailable(
                    f"Redis at {where}: check SENTINEL_REDIS_PASSWORD and SENTINEL_REDIS_URL"
                )
            _missing("Redis", where, "SENTINEL_REDIS_URL", alternative)
    if registry and not registry_answers(settings):
        _missing(
            "the schema registry", settings.registry.shown_url, "SENTINEL_REGISTRY_URL", alternative
        )


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
    address = address.rpartition("://")[2]  # librdkafka accepts PROTOCOL://host:port
    if address.startswith("["):  # [v6]:port
        host, _, rest = address[1:].partition("]")
        port = rest.lstrip(":")
        return host, int(port) if port.isdigit() else default_port
    if address.count(":") > 1:  # a bare IPv6 address
        return address, default_port
    host, _, port = address.rpartition(":")
    if not host:
        return address or "127.0.0.1", default_port
    return host, int(port) if port.isdigit() else default_port


def _url_host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    defaults = {"redis": 6379, "rediss": 6379, "http": 80, "https": 443}
    try:
        port = parts.port
    except ValueError:
        port = None
    return parts.hostname or "127.0.0.1", port or defaults.get(parts.scheme, 80)
