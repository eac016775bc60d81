"""Helpers that start private local stacks for tests, with the same launcher as `infra up`.

Every stack started here listens on ports the kernel hands out as free (ephemeral ports, never a
developer's 9092/6379/8081) and keeps its data under a pytest tmp dir, so tests can run while a
developer's own stack is up.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from stream_sentinel.config import Settings, load_settings
from stream_sentinel.errors import InfraError
from stream_sentinel.infra.process import free_ports
from stream_sentinel.infra.registry import section_env
from stream_sentinel.infra.stack import Stack

#: Test stacks carry little data; a smaller heap than the 1 GB default lets two run side by side.
TEST_KAFKA_HEAP = "512m"
INSTALL_HINT = "`make test` installs everything; `make setup-kafka setup-redis` installs just these"


def isolated_settings(state_dir: Path, profile: str = "test") -> Settings:
    """Settings for a private stack: fresh free ports, data under ``state_dir``, no prefixes."""
    kafka, controller, redis, registry = free_ports(4)
    return load_settings(
        profile,
        overrides={
            "kafka": {"bootstrap": f"127.0.0.1:{kafka}", "topic_prefix": ""},
            "redis": {"url": f"redis://127.0.0.1:{redis}", "key_namespace": ""},
            "registry": {"url": f"http://127.0.0.1:{registry}"},
            "infra": {
                "state_dir": state_dir,
                "controller_port": controller,
                "kafka_heap": TEST_KAFKA_HEAP,
            },
        },
    )


def require_installed(stack: Stack) -> None:
    """Fail (never skip) when Java, the Kafka jars or redis-server are missing."""
    try:
        stack.require_installed()
    except InfraError as exc:
        pytest.fail(
            f"the integration tier needs real Kafka and Redis: {exc}\n{INSTALL_HINT}", pytrace=False
        )


@contextmanager
def running_stack(
    settings: Settings, with_registry: bool = True, secure: bool = False
) -> Iterator[Stack]:
    """A started stack (``secure``: as `infra up --secure`), stopped again on exit whatever
    happened in between."""
    stack = Stack(settings, secure=secure)
    require_installed(stack)
    try:
        try:
            stack.up(with_registry=with_registry)
        except InfraError as exc:
            pytest.fail(f"the test stack did not start: {exc}", pytrace=False)
        yield stack
    finally:
        stack.down()


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Let `kill <pytest pid>` (a CI timeout) run fixture teardown instead of orphaning servers."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def cli_env(settings: Settings) -> dict[str, str]:
    """The environment a user would run the CLI with to reach the stack of ``settings``.

    The caller's own environment (PATH to java and redis-server, HOME) is kept, except any
    SENTINEL_* variables, which the stack's settings replace.
    """
    own = {k: v for k, v in os.environ.items() if not k.startswith("SENTINEL_")}
    return {
        **own,
        "SENTINEL_ENV": settings.env,
        **section_env("SENTINEL_KAFKA_", settings.kafka),
        **section_env("SENTINEL_REDIS_", settings.redis),
        **section_env("SENTINEL_REGISTRY_", settings.registry),
        **section_env("SENTINEL_INFRA_", settings.infra),
    }


def secure_client_settings(settings: Settings, stack: Stack) -> Settings:
    """``settings`` with Kafka over the secure stack's SASL_SSL, Redis over its TLS and the
    registry over HTTPS, as the admin (the client factory's ``principal`` picks a service)."""
    assert stack.security is not None, "the stack was not started with secure=True"
    kafka = stack.security.client_kafka(settings.kafka, "admin")
    redis = stack.security.client_redis(settings.redis, "admin")
    registry = stack.security.client_registry(settings.registry, "admin")
    return settings.with_overrides(
        kafka=kafka.model_dump(), redis=redis.model_dump(), registry=registry.model_dump()
    )
