"""The client factory's principal: a command names the service it runs as."""

from __future__ import annotations

from pathlib import Path

import pytest

from stream_sentinel.clients.backends import RealClients
from stream_sentinel.config import load_settings
from stream_sentinel.config.credentials import StackCredentials
from stream_sentinel.infra.acls import PRINCIPALS
from stream_sentinel.infra.secrets import new_credentials, write_credentials
from stream_sentinel.infra.secure import StackSecurity
from stream_sentinel.transport.kafka import client_config

pytestmark = pytest.mark.unit


def _numbered() -> StackCredentials:
    counter = iter(range(100))
    return new_credentials(PRINCIPALS, lambda: f"pw-{next(counter)}")


def _security(tmp_path: Path) -> StackSecurity:
    security = StackSecurity(tmp_path / "security")
    write_credentials(security.secrets_file, _numbered())
    return security


def test_the_factory_logs_in_as_the_principal_the_command_names(tmp_path: Path) -> None:
    security = _security(tmp_path)
    kafka = security.client_kafka(load_settings("test").kafka, "admin")
    settings = load_settings("test").with_overrides(kafka=kafka.model_dump())
    config = client_config(RealClients(settings, principal="detector").broker().settings)
    config.pop("error_cb")
    assert config == {
        "bootstrap.servers": "127.0.0.1:9092",
        "client.id": "stream-sentinel",
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "detector",
        "sasl.password": "pw-1",
        "ssl.ca.location": str(security.certs.ca),
    }
    assert RealClients(settings).broker().settings.sasl_username == "admin"


def test_a_plaintext_connection_ignores_the_principal() -> None:
    settings = load_settings("test")
    assert RealClients(settings, principal="detector").broker().settings == settings.kafka
