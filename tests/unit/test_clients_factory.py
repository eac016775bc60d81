"""The client factories: settings to the broker, its admin, the state store and the registry,
real or embedded, built in this one place (and nowhere else in the package)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

import stream_sentinel
from stream_sentinel.clients.backends import (
    ClientFactory,
    EmbeddedClients,
    RealClients,
    embedded_backends,
    real_backends,
)
from stream_sentinel.clock import ManualClock
from stream_sentinel.config import Settings, load_settings
from stream_sentinel.registry.http import HttpRegistryClient
from stream_sentinel.registry_server.local_client import LocalRegistryClient
from stream_sentinel.state.base import Batch, Namespace
from stream_sentinel.transport import kafka_admin
from stream_sentinel.transport.base import TopicInfo, TopicSpec

pytestmark = pytest.mark.unit

SCHEMA = '{"type":"record","name":"P","fields":[{"name":"id","type":"string"}]}'


def settings_with(**environ: str) -> Settings:
    return load_settings("development", environ=environ)


# -- embedded -------------------------------------------------------------------------------------
def test_embedded_clients_all_meet_the_same_broker_store_and_registry() -> None:
    clients: ClientFactory = EmbeddedClients()
    clients.admin().create_topics([TopicSpec("payments", 2)])
    assert clients.broker().admin().describe_topics(["payments"]) == {
        "payments": TopicInfo("payments", 2, {})
    }
    clients.state().execute(Batch().set(Namespace.PIPELINE, "k", b"v"))
    backends = clients.backends()
    assert backends.kind == "embedded"
    assert backends.broker is clients.broker() and backends.state is clients.state()
    assert backends.state.execute(Batch().get(Namespace.PIPELINE, "k")) == [b"v"]
    schema_id = clients.registry().register("payments-value", SCHEMA)
    assert clients.registry().schema_by_id(schema_id) == SCHEMA


def test_two_embedded_factories_share_nothing() -> None:
    first, second = EmbeddedClients(), EmbeddedClients()
    first.admin().create_topics([TopicSpec("payments", 1)])
    first.registry().register("payments-value", SCHEMA)
    assert second.admin().describe_topics() == {}
    assert second.registry().subjects() == []


def test_the_embedded_store_keeps_the_factory_clock() -> None:
    clock = ManualClock()
    store = EmbeddedClients(clock).state()
    store.execute(Batch().set(Namespace.PROFILES, "user:1", b"p", ttl_ms=1_000))
    clock.advance(1.0)
    assert store.execute(Batch().get(Namespace.PROFILES, "user:1")) == [None]


def test_embedded_backends_is_the_factory_s_pair() -> None:
    backends = embedded_backends()
    assert (backends.kind, backends.broker.name, backends.state.name) == (
        "embedded",
        "memory",
        "memory",
    )


# -- real: offline construction from the settings ------------------------------------------------
def test_real_clients_carry_their_settings_and_contact_nothing() -> None:
    settings = settings_with(
        SENTINEL_KAFKA_BOOTSTRAP="kafka.test:19092", SENTINEL_REDIS_URL="redis://redis.test:6380"
    )
    clients = RealClients(settings)
    broker = clients.broker()
    assert (broker.name, broker.settings.bootstrap) == ("kafka", "kafka.test:19092")
    store = clients.state()
    pool = store.client.connection_pool.connection_kwargs  # built, not connected
    assert (store.name, pool["host"], pool["port"]) == ("redis", "redis.test", 6380)
    store.close()
    backends = real_backends(settings)
    assert (backends.kind, backends.broker.name, backends.state.name) == ("local", "kafka", "redis")
    backends.close()


def test_the_real_admin_gets_the_broker_settings_and_its_timeout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[dict[str, Any]] = []

    class RecordingAdminClient:
        def __init__(self, config: dict[str, Any]) -> None:
            seen.append(config)

    monkeypatch.setattr(kafka_admin, "AdminClient", RecordingAdminClient)
    settings = settings_with(SENTINEL_KAFKA_BOOTSTRAP="kafka.test:19092")
    admin = RealClients(settings).admin(timeout_s=10.0)
    assert [c["bootstrap.servers"] for c in seen] == ["kafka.test:19092"]
    assert admin._timeout_s == 10.0


@pytest.mark.parametrize(
    ("url", "kind"),
    [("http://registry.test:8081", HttpRegistryClient), ("memory://factory", LocalRegistryClient)],
)
def test_the_real_registry_follows_the_url(url: str, kind: type) -> None:
    registry = RealClients(settings_with(SENTINEL_REGISTRY_URL=url)).registry()
    assert type(registry) is kind
    registry.close()


# -- one place ------------------------------------------------------------------------------------
CONSTRUCTORS = re.compile(
    r"\b(KafkaBroker|KafkaAdmin|RedisStateStore|HttpRegistryClient|MemoryBroker|MemoryStateStore)\("
)
#: The backend packages define and wrap the clients; clients/ builds them for everyone else.
BUILDERS = ("clients", "transport", "state", "registry", "registry_server")


def test_no_module_outside_the_factory_builds_a_client_itself() -> None:
    package = Path(stream_sentinel.__file__).parent
    builders = [
        f"{path.relative_to(package)}:{n}: {line.strip()}"
        for path in sorted(package.rglob("*.py"))
        if path.relative_to(package).parts[0] not in BUILDERS
        for n, line in enumerate(path.read_text("utf-8").splitlines(), 1)
        if CONSTRUCTORS.search(line)
    ]
    assert builders == []
