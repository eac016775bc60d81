"""The ports of the local stack, read from the endpoint settings.

The endpoints the clients use (``SENTINEL_KAFKA_BOOTSTRAP``, ``SENTINEL_REDIS_URL``,
``SENTINEL_REGISTRY_URL``) are the single source of truth: the launcher starts each service on the
port its clients will dial, so the two can never disagree. The launcher binds only 127.0.0.1, so an
endpoint on another host is refused rather than silently ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from stream_sentinel.config import Settings
from stream_sentinel.errors import ConfigError

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost"})
BIND_HOST = "127.0.0.1"


@dataclass(frozen=True, slots=True)
class StackPorts:
    """The four ports the local stack listens on, all on 127.0.0.1."""

    kafka: int
    controller: int
    redis: int
    registry: int

    def labelled(self) -> dict[str, int]:
        """Port by role, in the order the services start."""
        return {
            "Kafka client": self.kafka,
            "KRaft controller": self.controller,
            "Redis": self.redis,
            "schema registry": self.registry,
        }


#: How to move each port elsewhere, for error messages.
PORT_VARIABLES = {
    "Kafka client": "SENTINEL_KAFKA_BOOTSTRAP=127.0.0.1:{port}",
    "KRaft controller": "SENTINEL_INFRA_CONTROLLER_PORT={port}",
    "Redis": "SENTINEL_REDIS_URL=redis://127.0.0.1:{port}",
    "schema registry": "SENTINEL_REGISTRY_URL=http://127.0.0.1:{port}",
}


def stack_ports(settings: Settings, secure: bool = False) -> StackPorts:
    """The ports of ``settings``' endpoints; refuses remote hosts and ports that collide.
    ``secure``: the stack is (or is being created) secure, so its clients may use SASL_SSL."""
    allowed = ("PLAINTEXT", "SASL_SSL") if secure else ("PLAINTEXT",)
    if settings.kafka.security_protocol not in allowed:
        raise ConfigError(_protocol_refusal(settings.kafka.security_protocol, secure))
    kafka = kafka_port(settings.kafka.bootstrap)
    ports = StackPorts(
        kafka=kafka,
        controller=settings.infra.controller_port or kafka + 1,
        redis=redis_port(settings.redis.url),
        registry=registry_port(settings.registry.url),
    )
    _require_distinct(ports)
    return ports


def _protocol_refusal(protocol: str, secure: bool) -> str:
    if secure:
        return (
            "the secure local stack serves Kafka over SASL_SSL (and PLAINTEXT to nobody), but"
            f" SENTINEL_KAFKA_SECURITY_PROTOCOL is {protocol}: set SASL_SSL, or point this"
            " profile at a real cluster instead"
        )
    return (
        "the local stack serves Kafka over PLAINTEXT only, but SENTINEL_KAFKA_SECURITY_PROTOCOL"
        f" is {protocol}: use the development or test profile for `infra up`, and point"
        " secured profiles at a real cluster instead (or create the stack with"
        " `infra up --secure`)"
    )


def kafka_port(bootstrap: str) -> int:
    """The port of a one-broker bootstrap list such as ``127.0.0.1:9092``."""
    servers = [server.strip() for server in bootstrap.split(",") if server.strip()]
    if len(servers) != 1:
        raise ConfigError(
            f"SENTINEL_KAFKA_BOOTSTRAP={bootstrap!r} names {len(servers)} brokers, but the local"
            " stack is one broker: set it to 127.0.0.1:<port>"
        )
    host, colon, port = servers[0].rpartition(":")
    if not colon:
        host, port = servers[0], ""
    _require_loopback(host, "SENTINEL_KAFKA_BOOTSTRAP", bootstrap)
    return _parse_port(port, "SENTINEL_KAFKA_BOOTSTRAP", bootstrap)


def redis_port(url: str) -> int:
    """The port of a ``redis://`` URL (6379 when it names none)."""
    parts = _split_url(url, ("redis", "rediss"), "SENTINEL_REDIS_URL")
    return _url_port(parts, 6379, "SENTINEL_REDIS_URL", url)


def registry_port(url: str) -> int:
    """The port of an ``http(s)://`` registry URL (80 or 443 when it names none)."""
    parts = _split_url(url, ("http", "https"), "SENTINEL_REGISTRY_URL")
    return _url_port(parts, 443 if parts.scheme == "https" else 80, "SENTINEL_REGISTRY_URL", url)


def _split_url(url: str, schemes: tuple[str, ...], variable: str) -> SplitResult:
    parts = urlsplit(url)
    if parts.scheme not in schemes:
        served = " or ".join(f"{scheme}://" for scheme in schemes)
        plain = "plain " if len(schemes) == 1 else ""
        raise ConfigError(
            f"{variable}={url!r}: the local stack serves {plain}{served} on 127.0.0.1 only;"
            f" set it to {schemes[0]}://127.0.0.1:<port>"
        )
    _require_loopback(parts.hostname or "", variable, url)
    return parts


def _url_port(parts: SplitResult, default: int, variable: str, url: str) -> int:
    try:
        port = parts.port
    except ValueError:
        raise ConfigError(f"{variable}={url!r} has an invalid port") from None
    return default if port is None else port


def _require_loopback(host: str, variable: str, value: str) -> None:
    """The launcher binds 127.0.0.1 only; a remote endpoint means the user wants another server."""
    if host not in LOOPBACK_HOSTS:
        raise ConfigError(
            f"`infra up` runs its services on this machine and binds only 127.0.0.1, but"
            f" {variable}={value!r} points at {host or 'no host'!s}. To use that server, skip"
            f" `infra up` and run the other commands against it; to run the local stack, unset"
            f" {variable} or point it at 127.0.0.1"
        )


def _parse_port(text: str, variable: str, value: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ConfigError(f"{variable}={value!r} needs a port between 1 and 65535 after the ':'")
    return int(text)


def _require_distinct(ports: StackPorts) -> None:
    seen: dict[int, str] = {}
    for role, port in ports.labelled().items():
        if port in seen:
            raise ConfigError(
                f"the {seen[port]} and the {role} would both listen on port {port}: move one,"
                f" e.g. {PORT_VARIABLES[role].format(port='<free port>')}"
            )
        seen[port] = role
