"""`infra up --secure`: SASL_SSL (SCRAM-SHA-512) over the stack's own CA, one principal per service
and ACLs allowing each only what it uses. One small stack for the module, on free ports."""

from __future__ import annotations

import json
import ssl
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest
import redis

from stream_sentinel.clients.backends import RealClients
from stream_sentinel.clients.kafka_acls import list_acls
from stream_sentinel.config import Settings
from stream_sentinel.console.sources import ConsoleSources
from stream_sentinel.errors import RegistryError, TransportError
from stream_sentinel.infra.acls import every_grant
from stream_sentinel.infra.registry_users import REGISTRY_ROLES
from stream_sentinel.infra.stack import Stack
from stream_sentinel.state.base import Namespace
from stream_sentinel.transport.base import TopicPartition
from stream_sentinel.transport.kafka import probe_kafka
from stream_sentinel.transport.topics import Topics
from stream_sentinel.wire.serde import Serde
from tests.integration.stacks import (
    cli_env,
    isolated_settings,
    running_stack,
    secure_client_settings,
)

pytestmark = pytest.mark.integration
CLI = str(Path(sys.executable).with_name("stream-sentinel"))
DELIVERY_S = 15.0
SCHEMA = json.dumps({"type": "record", "name": "P", "fields": [{"name": "id", "type": "string"}]})


@pytest.fixture(scope="module")
def secure_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    settings = isolated_settings(tmp_path_factory.mktemp("secure-stack"))
    with running_stack(settings, secure=True) as stack:
        used = ("transactions", "fraud-scores", "user-actions")  # only these: a faster start
        specs = [spec for spec in Topics.from_settings(settings).specs() if spec.name in used]
        RealClients(secure_client_settings(settings, stack)).admin().create_topics(specs)
        yield stack


@pytest.fixture(scope="module")
def secured(secure_stack: Stack) -> Settings:
    return secure_client_settings(secure_stack.settings, secure_stack)


def produce(clients: RealClients, topic: str, value: bytes) -> list[str | None]:
    """Produce one record and wait: the delivery's error (None when it was written)."""
    outcomes: list[str | None] = []
    producer = clients.broker().producer()
    try:
        producer.produce(topic, value, b"user-1", on_delivery=lambda e, tp, o: outcomes.append(e))
        producer.flush(DELIVERY_S)
    finally:
        producer.close()
    return outcomes


def test_the_detector_reads_transactions_in_its_group_and_writes_scores(secured: Settings) -> None:
    generator = RealClients(secured, principal="generator")
    detector = RealClients(secured, principal="detector")
    assert produce(generator, "transactions", b"payment-1") == [None]
    assert produce(detector, "fraud-scores", b"score-1") == [None]
    consumer = detector.broker().consumer(secured.detector.group_id)
    try:
        consumer.subscribe(["transactions"])
        records = []
        for _ in range(100):
            records += consumer.consume(10, 0.2)
            if records:
                break
        assert [r.value() for r in records] == [b"payment-1"]
        where = TopicPartition("transactions", int(records[0].partition() or 0))
        consumer.commit({where: int(records[0].offset() or 0) + 1})
        assert consumer.committed([where], 10.0) == {where: int(records[0].offset() or 0) + 1}
    finally:
        consumer.close()


def test_the_detector_may_not_write_an_unrelated_topic(secured: Settings) -> None:
    detector = RealClients(secured, principal="detector")
    assert produce(detector, "user-actions", b"unblock") == ["Broker: Topic authorization failed"]


def test_the_detector_may_not_read_another_service_s_group(secured: Settings) -> None:
    admin = RealClients(secured, principal="detector").admin()
    try:
        with pytest.raises(TransportError) as denied:
            admin.group_offsets(secured.alerts.group_id)
    finally:
        admin.close()
    assert "Group authorization failed" in str(denied.value)


def test_a_plaintext_client_cannot_connect_where_a_sasl_ssl_one_can(
    secure_stack: Stack, secured: Settings
) -> None:
    assert secure_stack.settings.kafka.security_protocol == "PLAINTEXT"
    assert probe_kafka(secure_stack.settings.kafka, 1.0) is False
    assert probe_kafka(secured.kafka.as_principal("detector"), 10.0) is True


def test_the_detector_s_redis_user_keeps_state_but_cannot_flush_configure_or_list_keys(
    secured: Settings,
) -> None:
    store = RealClients(secured, principal="detector").state()
    try:
        client = store.client
        assert client.set("secure-test:k", "v") is True
        assert client.get("secure-test:k") == b"v"
        refusals = []
        for command in (("FLUSHALL",), ("CONFIG", "GET", "maxmemory"), ("KEYS", "*")):
            with pytest.raises(redis.exceptions.NoPermissionError) as refused:
                client.execute_command(*command)
            refusals.append(str(refused.value))
        assert client.get("secure-test:k") == b"v"
    finally:
        store.close()
    assert refusals == [
        "this user has no permissions to run the 'flushall' command",
        "this user has no permissions to run the 'config|get' command",
        "this user has no permissions to run the 'keys' command",
    ]


def test_redis_refuses_plain_connections_and_the_default_user(secure_stack: Stack) -> None:
    assert secure_stack.security is not None
    port = secure_stack.ports.redis
    plain = redis.Redis(port=port, socket_timeout=2, socket_connect_timeout=2)
    with pytest.raises(redis.exceptions.ConnectionError):
        plain.ping()
    ca = str(secure_stack.security.certs.ca)
    anonymous = redis.Redis(port=port, ssl=True, ssl_ca_certs=ca, socket_timeout=2)
    with pytest.raises(redis.exceptions.AuthenticationError) as refused:
        anonymous.ping()
    assert str(refused.value).startswith(
        "HELLO must be called with the client already authenticated"
    )


def test_the_registry_wants_credentials_and_a_writer_s_role_to_register(
    secure_stack: Stack, secured: Settings
) -> None:
    assert secure_stack.security is not None
    url, ca = secured.registry.url, str(secure_stack.security.certs.ca)
    trust = ssl.create_default_context(cafile=ca)
    anonymous = httpx.get(f"{url}/subjects", verify=trust, timeout=10)
    assert (anonymous.status_code, anonymous.json()["error_code"]) == (401, 40101)
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/subjects", timeout=10)  # a client that does not trust the stack's CA
    reader = RealClients(secured, principal="console").registry()
    writer = RealClients(secured, principal="detector").registry()
    try:
        with pytest.raises(RegistryError) as refused:
            reader.register("secure-test-value", SCHEMA)
        assert "User console (role reader) is denied: needs writer" in str(refused.value)
        assert writer.register("secure-test-value", SCHEMA) == 1  # the stack's first schema
        assert reader.subjects() == ["secure-test-value"]
    finally:
        reader.close()
        writer.close()


def test_the_broker_holds_exactly_the_table_s_acls(secured: Settings) -> None:
    assert list_acls(secured.kafka, 10.0) == every_grant(secured)


def test_secrets_are_owner_only_and_never_on_a_command_line_or_in_status(
    secure_stack: Stack,
) -> None:
    assert secure_stack.security is not None
    secrets_file = secure_stack.security.secrets_file
    passwords = json.loads(secrets_file.read_text())["kafka"]
    assert sorted(passwords) == [
        "admin",
        "alerts",
        "console",
        "detector",
        "drift",
        "experiments",
        "generator",
        "learner",
        "registry",
    ]
    assert stat.S_IMODE(secrets_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(secure_stack.kafka.config_file.stat().st_mode) == 0o600
    processes = [psutil.Process(pid) for s in secure_stack.services if (pid := s.process.pid())]
    assert len(processes) == 3  # Kafka, Redis, the registry
    command_lines = [" ".join(p.cmdline()) for p in processes]
    environments = [json.dumps(p.environ()) for p in processes]
    status = subprocess.run(
        [CLI, "infra", "status"], env=cli_env(secure_stack.settings), capture_output=True, text=True
    )
    assert status.returncode == 0, status.stderr
    assert "Kafka security: SASL_SSL (SCRAM-SHA-512) with ACLs" in status.stdout
    as_json = subprocess.run(
        [CLI, "infra", "status", "--json"],
        env=cli_env(secure_stack.settings),
        capture_output=True,
        text=True,
    )
    services = json.loads(as_json.stdout)["services"]
    assert [(s["service"], s["endpoint"].split(":")[0], s["healthy"]) for s in services] == [
        ("kafka", "127.0.0.1", True),
        ("redis", "rediss", True),
        ("registry", "https", True),
    ]
    logs = [path.read_text(errors="replace") for path in secure_stack.state_dir.rglob("*.log")]
    outputs = [status.stdout, status.stderr, as_json.stdout, as_json.stderr]
    redis_passwords = json.loads(secrets_file.read_text())["redis"]
    assert sorted(redis_passwords) == [
        "admin",
        "alerts",
        "console",
        "detector",
        "drift",
        "experiments",
        "learner",
    ]
    registry_passwords = json.loads(secrets_file.read_text())["registry"]
    assert sorted(registry_passwords) == sorted(REGISTRY_ROLES)
    everything = [*passwords.values(), *redis_passwords.values(), *registry_passwords.values()]
    assert len(everything) == 9 + 7 + 8
    for password in everything:
        for text in [*command_lines, *environments, *outputs, *logs]:
            assert password not in text
    assert secure_stack.security.marker.read_text() == "created by `infra up --secure`\n"


def test_the_console_reads_the_slow_log_and_key_sizes_and_every_database_over_tls(
    secured: Settings,
) -> None:
    store = RealClients(secured, principal="console").state()
    try:
        client = store.client
        assert client.set("secure-test:sized", "v") is True
        assert int(client.execute_command("MEMORY", "USAGE", "secure-test:sized")) > 0
        assert store.slowlog(5).available is True
        with pytest.raises(redis.exceptions.NoPermissionError) as refused:
            client.execute_command("SLOWLOG", "RESET")
        assert store.key_count(Namespace.PIPELINE) == 0  # db 1, over TLS as the console
    finally:
        store.close()
    assert str(refused.value) == "this user has no permissions to run the 'slowlog|reset' command"


def test_the_console_publishes_with_a_schema_a_writer_registered(secured: Settings) -> None:
    """The case desk's encoder only looks up (a reader); the alert processor registers."""
    console = ConsoleSources(RealClients(secured, principal="console"), secured)
    writer = RealClients(secured, principal="alerts").registry()
    try:
        with pytest.raises(RegistryError, match="not found"):
            _ = console.serde.encoder("user-actions").schema_id
        registered = Serde.from_settings(secured, writer).encoder("user-actions").schema_id
        assert console.serde.encoder("user-actions").schema_id == registered
    finally:
        writer.close()
        console.close()
