"""The console is a registry reader: where it publishes it looks schemas up, never registers."""

from __future__ import annotations

from pathlib import Path

import pytest

from stream_sentinel.clients.backends import EmbeddedClients
from stream_sentinel.clock import ManualClock
from stream_sentinel.config import load_settings
from stream_sentinel.console.sources import ConsoleSources
from stream_sentinel.errors import RegistryError
from stream_sentinel.transport.topics import FRAUD_FEEDBACK, USER_ACTIONS

pytestmark = pytest.mark.unit
CASE_DESK_TOPICS = (USER_ACTIONS, FRAUD_FEEDBACK)


def _sources(clients: EmbeddedClients, environ: dict[str, str]) -> ConsoleSources:
    return ConsoleSources(clients, load_settings("test", environ=environ), ManualClock(0.0))


def test_against_a_registry_with_users_the_console_only_looks_its_schemas_up(
    tmp_path: Path,
) -> None:
    clients = EmbeddedClients(ManualClock(0.0))
    sources = _sources(clients, {"SENTINEL_REGISTRY_SECRETS_FILE": str(tmp_path / "s.json")})
    for topic in CASE_DESK_TOPICS:
        with pytest.raises(RegistryError, match=f"Subject '{topic}-value' not found"):
            _ = sources.serde.encoder(topic).schema_id
    assert clients.registry().subjects() == []
    writer = _sources(clients, {}).serde  # the alert processor, a writer, registers them
    ids = {topic: writer.encoder(topic).schema_id for topic in CASE_DESK_TOPICS}
    looked_up = _sources(clients, {"SENTINEL_REGISTRY_SECRETS_FILE": str(tmp_path / "s.json")})
    assert {topic: looked_up.serde.encoder(topic).schema_id for topic in CASE_DESK_TOPICS} == ids
    assert clients.registry().subjects() == ["fraud-feedback-value", "user-actions-value"]


def test_against_an_open_registry_the_console_registers_as_before() -> None:
    clients = EmbeddedClients(ManualClock(0.0))
    assert _sources(clients, {}).serde.encoder(USER_ACTIONS).schema_id == 1
    assert clients.registry().subjects() == ["user-actions-value"]
