"""The operator's view of a real stack: `status`, `dlq show` and `dlq replay`."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from stream_sentinel.config import Settings
from tests.integration.detector_support import (
    SENTINEL,
    create_topics,
    detect,
    finish,
    produce,
    read_all,
    serde_for,
    transactions,
)
from tests.integration.stacks import cli_env


def sentinel(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SENTINEL, *args], env=cli_env(settings), capture_output=True, text=True, timeout=120
    )


def test_status_and_dead_letters_after_a_run(settings: Settings, tmp_path: Path) -> None:
    create_topics(settings)
    sent = transactions(500, users=50, seed=9)
    produce(settings, sent)
    encode = serde_for(settings).encoder("transactions")
    produce(settings, [b"junk-1", b"junk-2", encode({**sent[0], "amount": -1.0})], key="u00007")
    finish(detect(settings, "--until-idle", "2"))

    shown = sentinel(settings, "dlq", "show", "--json")
    assert shown.returncode == 0, shown.stderr
    letters = [json.loads(line) for line in shown.stdout.splitlines()]
    assert sorted(d["error_type"] for d in letters) == ["bad_magic", "bad_magic", "invalid_amount"]
    assert {d["value"] for d in letters if d["error_type"] == "bad_magic"} == {"junk-1", "junk-2"}
    assert all(d["component"] == "detector" and d["key"] == "u00007" for d in letters)

    dry = sentinel(settings, "dlq", "replay", "--reason", "bad_magic", "--dry-run", "--yes")
    topic = f"{settings.kafka.topic_prefix}transactions"
    assert dry.stdout.strip() == f"would replay 2 dead letter(s): 2 to {topic}"
    done = sentinel(settings, "dlq", "replay", "--reason", "bad_magic", "--yes")
    assert done.stdout.strip() == f"replayed 2 dead letter(s): 2 to {topic}"
    finish(detect(settings, "--until-idle", "2"))  # rejected again: still junk
    assert len(read_all(settings, "dead-letter", expect=5)) == 5

    status = sentinel(settings, "status", "--json")
    assert status.returncode == 0, status.stderr
    report = json.loads(status.stdout)
    detector = report["groups"][0]
    assert (detector["group"], detector["topic"], detector["total_lag"]) == (
        "fraud-detection-group",
        topic,
        0,
    )
    assert sum(detector["committed"].values()) == len(sent) + 5
    assert report["dead_letters"] == {"bad_magic": 4, "invalid_amount": 1}
    # the latest heartbeat is the second run's, which read the two replayed letters
    assert [(w["worker"], w["records"]) for w in detector["workers"]] == [("worker-0", 2)]
