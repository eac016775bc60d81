"""The pipeline on `infra up --secure` through the CLI, each command as its own principal:
`topics create` and `schemas register` as admin, `generate` as the generator, `detect` as the
detector, every decision read back as admin. One small stack, on free ports."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from stream_sentinel.config import Settings
from tests.integration.detector_support import read_all
from tests.integration.stacks import (
    cli_env,
    isolated_settings,
    running_stack,
    secure_client_settings,
)

pytestmark = pytest.mark.integration
CLI = str(Path(sys.executable).with_name("stream-sentinel"))
SENT = 200


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    settings = isolated_settings(tmp_path_factory.mktemp("secure-pipeline"))
    with running_stack(settings, secure=True) as stack:
        yield secure_client_settings(settings, stack)


def run(
    env: dict[str, str], *args: str, timeout_s: float = 180.0
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CLI, *args], env=env, capture_output=True, text=True, timeout=timeout_s, check=False
    )


def test_each_command_runs_as_its_principal_and_every_transaction_is_decided_once(
    secured: Settings,
) -> None:
    env = cli_env(secured)  # configured as admin: the service commands pick their own principal
    topics = run(env, "topics", "create")
    assert topics.returncode == 0, topics.stdout + topics.stderr
    assert "created  user-actions " in topics.stdout
    schemas = run(env, "schemas", "register")
    assert schemas.returncode == 0, schemas.stdout + schemas.stderr
    generated = run(env, "generate", "--count", str(SENT), "--seed", "22")
    assert generated.returncode == 0, generated.stdout + generated.stderr
    detected = run(env, "detect", "--until-idle", "3")
    assert detected.returncode == 0, detected.stdout + detected.stderr
    sent = read_all(secured, "transactions", expect=SENT)
    scores = read_all(secured, "fraud-scores", expect=SENT)
    assert len(sent) == SENT
    decided = Counter(score["transaction_id"] for score in scores)
    assert set(decided) == {record["transaction_id"] for record in sent}
    assert set(decided.values()) == {1}
    # The detector's own login is refused a topic it has no ACL for. Kafka leaves a topic the
    # principal may not DESCRIBE out of its metadata, so the CLI sees it as missing (it exists:
    # `topics create` made it above).
    as_detector = env | {"SENTINEL_KAFKA_SASL_USERNAME": "detector"}
    refused = run(as_detector, "tail", "user-actions", "--from-beginning", timeout_s=60.0)
    assert (refused.returncode, refused.stdout, refused.stderr) == (
        2,
        "",
        "error: topic 'user-actions' does not exist, or this Kafka user may not see it (is the "
        "topic prefix right? on a secure stack, has the user in SENTINEL_KAFKA_SASL_USERNAME an "
        "ACL on it?)\n",
    )
