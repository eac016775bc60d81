"""The registry process gets its settings as SENTINEL_* variables built from the launcher's."""

from __future__ import annotations

import sys

from stream_sentinel.config import load_settings
from stream_sentinel.infra.registry import registry_command, registry_env, section_env


def test_the_environment_rebuilds_the_same_kafka_and_registry_settings() -> None:
    settings = load_settings(
        "test",
        environ={
            "SENTINEL_KAFKA_BOOTSTRAP": "127.0.0.1:19092",
            "SENTINEL_KAFKA_SASL_PASSWORD": "hunter2",
            "SENTINEL_REGISTRY_URL": "http://127.0.0.1:18081",
        },
    )
    env = registry_env(settings)
    rebuilt = load_settings(environ=env)
    assert rebuilt.env == "test"
    assert rebuilt.kafka == settings.kafka
    assert rebuilt.registry == settings.registry
    assert env["SENTINEL_KAFKA_BOOTSTRAP"] == "127.0.0.1:19092"
    assert env["SENTINEL_INFRA_START_TIMEOUT_S"] == "90.0"


def test_secrets_are_passed_as_their_value_and_unset_values_are_left_out() -> None:
    settings = load_settings(environ={"SENTINEL_KAFKA_SASL_PASSWORD": "hunter2"})
    env = section_env("SENTINEL_KAFKA_", settings.kafka)
    assert env["SENTINEL_KAFKA_SASL_PASSWORD"] == "hunter2"
    assert env["SENTINEL_KAFKA_ENABLE_IDEMPOTENCE"] == "true"
    assert "SENTINEL_KAFKA_SASL_USERNAME" not in env


def test_the_registry_runs_through_this_interpreter_on_loopback() -> None:
    assert registry_command(18081) == [
        sys.executable, "-m", "stream_sentinel", "schema-registry",
        "--host", "127.0.0.1", "--port", "18081",
    ]  # fmt: skip
