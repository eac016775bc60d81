"""The learning plane's commands against the real stack: train -> models -> feedback.

`train` registers into Redis DB3 and `models list` shows the champion; labels produced to
Kafka's fraud-feedback reach DB2 through `feedback run`, and `feedback stats` reports them.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from stream_sentinel.cli import cli
from stream_sentinel.clients.backends import RealClients
from stream_sentinel.config import Settings
from stream_sentinel.transport.base import TopicPartition
from stream_sentinel.transport.topics import Topics
from stream_sentinel.wire.serde import Serde
from tests.contract.feedback_store_contract import STREAM, stats_of_stream
from tests.integration.stacks import cli_env

pytestmark = pytest.mark.integration

CLI = str(Path(sys.executable).with_name("stream-sentinel"))


def run(settings: Settings, *args: str) -> Result:
    return CliRunner().invoke(cli, list(args), env=cli_env(settings))


def test_train_registers_the_champion_and_promote_and_rollback_move_it(
    settings: Settings, tmp_path: Path
) -> None:
    history = tmp_path / "history.csv"
    args = ("generate", "--count", "4000", "--seed", "7", "--output", str(history))
    assert run(settings, *args).exit_code == 0
    first = run(settings, "train", str(history), "--label-column", "is_fraud")
    assert first.exit_code == 0, first.output
    [listed] = json.loads(run(settings, "models", "list", "--json").output)
    champion = listed["version"]
    assert (listed["kind"], listed["aliases"]) == ("lightgbm", ["champion"])
    second = run(settings, "train", str(history), "--holdout", "0.3", "--promote")
    assert second.exit_code == 0, second.output
    newest = json.loads(run(settings, "models", "list", "--json").output)[0]
    assert newest["aliases"] == ["champion"] and newest["version"] != champion
    back = run(settings, "models", "rollback", "--reason", "AP fell", "--actor", "ana")
    assert back.output == (
        f"champion: {newest['version']} -> {champion} (rollback #3, by ana); announced on "
        "model-events\n"
    )
    assert announced(settings, expect=3) == [
        ("champion", 1, champion),
        ("champion", 2, newest["version"]),
        ("champion", 3, champion),
    ]
    history_lines = run(settings, "models", "history").output.splitlines()
    assert [line.split("  ")[1] for line in history_lines] == [
        f"champion #3 rollback {newest['version']} -> {champion}",
        f"champion #2 promote {champion} -> {newest['version']}",
        f"champion #1 promote - -> {champion}",
    ]


def announced(settings: Settings, expect: int) -> list[tuple[str, int, str]]:
    """(alias, move, version) of every record on model-events, read_committed."""
    clients = RealClients(settings)
    broker = clients.broker()
    consumer = broker.consumer(None)
    consumer.assign({TopicPartition(Topics.from_settings(settings).model_events, 0): 0})
    decoder = Serde.from_settings(settings, clients.registry()).decoder("model-events")
    events: list[dict[str, Any]] = []
    deadline = time.monotonic() + 30
    while len(events) < expect and time.monotonic() < deadline:
        events += [decoder.decode(r.value()) for r in consumer.consume(100, 1.0)]
    consumer.close()
    broker.close()
    return [(e["alias"], e["move"], e["model_version"]) for e in events]


def test_labels_from_kafka_reach_feedback_stats(settings: Settings, tmp_path: Path) -> None:
    clients = RealClients(settings)
    topics = Topics.from_settings(settings)
    broker = clients.broker()
    broker.admin().create_topics(topics.specs())
    encode = Serde.from_settings(settings, clients.registry()).encoder("fraud-feedback")
    producer = broker.producer()
    for record in STREAM:
        producer.produce(topics.fraud_feedback, encode(record), b"u1")
    producer.flush()
    producer.close()
    broker.close()
    # a subprocess, as a user runs it: `feedback run` installs its own signal handlers. Idle
    # time starts once the assigned partitions are read to their end, so 0 cannot end it early
    kept = subprocess.run(
        [CLI, "feedback", "run", "--until-idle", "0"],
        env=cli_env(settings),
        capture_output=True,
        text=True,
        timeout=300,  # only guards against a hang
        check=False,
    )
    assert kept.returncode == 0, kept.stdout + kept.stderr
    assert kept.stdout.splitlines()[-1] == (
        "labels 4 kept, 1 unchanged (re-delivered or older), 0 undecodable (dead-lettered by "
        "the detector)"
    )
    stats = json.loads(run(settings, "feedback", "stats", "--json").output)
    assert stats == stats_of_stream()
