"""`stream-sentinel schemas register|list|check` against an in-process (memory://) registry."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner

from stream_sentinel.cli import cli
from stream_sentinel.clients.registry import connect_registry
from stream_sentinel.config import RegistrySettings
from stream_sentinel.wire.schemas import find


@pytest.fixture
def env() -> dict[str, str]:
    """A private memory:// registry for this test, and a topic prefix."""
    return {
        "SENTINEL_REGISTRY_URL": f"memory://cli-{uuid.uuid4().hex}",
        "SENTINEL_KAFKA_TOPIC_PREFIX": "dev-",
        "SENTINEL_ENV": "test",
    }


def run(env: dict[str, str], *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), env=env)
    return result.exit_code, result.output


REGISTERED = [
    "dev-transactions-value       Transaction v1: registered (version 1, id 1)",
    "dev-transactions-value       Transaction v2: registered (version 2, id 2)",
    "dev-fraud-scores-value       FraudScore v1: registered (version 1, id 3)",
    "dev-fraud-scores-value       FraudScore v2: registered (version 2, id 4)",
    "dev-fraud-alerts-value       FraudAlert v1: registered (version 1, id 5)",
    "dev-user-actions-value       UserAction v1: registered (version 1, id 6)",
    "dev-fraud-feedback-value     Feedback v1: registered (version 1, id 7)",
    "dev-dead-letter-value        DeadLetter v1: registered (version 1, id 8)",
    "dev-dead-letter-value        DeadLetter v2: registered (version 2, id 9)",
    "dev-model-events-value       ModelEvent v1: registered (version 1, id 10)",
    "dev-model-events-value       ModelEvent v2: registered (version 2, id 11)",
    "dev-decision-features-value  DecisionFeatures v1: registered (version 1, id 12)",
    "dev-decision-features-value  DecisionFeatures v2: registered (version 2, id 13)",
    "dev-drift-events-value       DriftEvent v1: registered (version 1, id 14)",
]


def test_register_registers_every_bundled_schema_once(env: dict[str, str]) -> None:
    assert run(env, "schemas", "register") == (0, "\n".join(REGISTERED) + "\n")
    code, output = run(env, "schemas", "register")
    assert code == 0
    assert output.splitlines()[:2] == [
        "dev-transactions-value       Transaction v1: already registered (version 1, id 1)",
        "dev-transactions-value       Transaction v2: already registered (version 2, id 2)",
    ]
    assert all("already registered" in line for line in output.splitlines())


def test_register_skips_v1_when_v2_is_already_there(env: dict[str, str]) -> None:
    registry = connect_registry(RegistrySettings(url=env["SENTINEL_REGISTRY_URL"]))
    registry.register("dev-transactions-value", find("Transaction", 2).text)
    code, output = run(env, "schemas", "register")
    assert (code, output.splitlines()[:2]) == (
        0,
        [
            "dev-transactions-value       Transaction v1: skipped (v2 is already registered)",
            "dev-transactions-value       Transaction v2: already registered (version 1, id 1)",
        ],
    )
    assert registry.versions("dev-transactions-value") == [1]


def test_list_shows_subjects_versions_ids_and_levels(env: dict[str, str]) -> None:
    assert run(env, "schemas", "list") == (
        0,
        "no subjects (run: stream-sentinel schemas register)\n",
    )
    run(env, "schemas", "register")
    code, output = run(env, "schemas", "list")
    assert code == 0
    assert output.splitlines()[0] == (
        "dev-dead-letter-value        versions [1, 2]  latest id 9  compatibility BACKWARD"
    )
    assert "dev-transactions-value       versions [1, 2]  latest id 2  compatibility BACKWARD" in (
        output.splitlines()
    )


def test_check_accepts_a_compatible_schema(env: dict[str, str], tmp_path: Path) -> None:
    run(env, "schemas", "register")
    evolved = find("Transaction", 2).json
    evolved["fields"].append({"name": "risk_hint", "type": ["null", "string"], "default": None})
    path = tmp_path / "transaction.v3.avsc"
    path.write_text(json.dumps(evolved))
    assert run(env, "schemas", "check", str(path), "--subject", "dev-transactions-value") == (
        0,
        "compatible: transaction.v3.avsc can be registered under dev-transactions-value "
        "(BACKWARD)\n",
    )


def test_check_rejects_an_incompatible_schema_with_the_reason(
    env: dict[str, str], tmp_path: Path
) -> None:
    run(env, "schemas", "register")
    evolved = find("Transaction", 2).json
    evolved["fields"].append({"name": "risk_hint", "type": "string"})
    path = tmp_path / "bad.avsc"
    path.write_text(json.dumps(evolved))
    code, output = run(env, "schemas", "check", str(path), "--subject", "dev-transactions-value")
    lines = output.splitlines()
    assert (code, lines[0]) == (
        1,
        "incompatible: bad.avsc breaks BACKWARD compatibility of dev-transactions-value",
    )
    assert lines[1] == (
        "  {errorType:'READER_FIELD_MISSING_DEFAULT_VALUE', description:'The field 'risk_hint' "
        "at path '/fields/18' in the new schema has no default value and is missing in the old "
        "schema', additionalInfo:'risk_hint'}"
    )
    assert lines[2] == "  {oldSchemaVersion: 2}"


def test_check_of_an_invalid_schema_fails_with_the_parsers_reason(
    env: dict[str, str], tmp_path: Path
) -> None:
    path = tmp_path / "broken.avsc"
    path.write_text('{"type": "record", "name": "X", "fields": [{"name": "a", "type": "nope"}]}')
    code, output = run(env, "schemas", "check", str(path), "--subject", "x-value")
    assert code == 1
    assert 'Invalid schema: Type property "nope" not a valid Avro schema' in output


def test_check_against_a_new_subject_is_compatible(env: dict[str, str], tmp_path: Path) -> None:
    path = tmp_path / "fresh.avsc"
    path.write_text('"string"')
    assert run(env, "schemas", "check", str(path), "--subject", "fresh-value") == (
        0,
        "compatible: fresh.avsc can be registered under fresh-value (BACKWARD)\n",
    )
