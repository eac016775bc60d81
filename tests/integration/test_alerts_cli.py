"""`stream-sentinel alerts ...` as an analyst runs it, against the real stack.

The detector runs in-process (as in test_alerts_pipeline); the alert processor is the CLI's,
run as a subprocess like a user would, so its signal handling is the real one.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from stream_sentinel.cli import cli
from stream_sentinel.clock import SYSTEM_CLOCK, ManualClock
from stream_sentinel.config import Settings
from stream_sentinel.domain import Action
from stream_sentinel.transport.kafka import KafkaBroker
from stream_sentinel.transport.topics import Topics
from tests.integration.stacks import cli_env
from tests.integration.test_alerts_pipeline import Pipeline, pipeline_settings

pytestmark = pytest.mark.integration

CLI = str(Path(sys.executable).with_name("stream-sentinel"))
BLOCK_S = 600


@pytest.fixture
def detector_only(settings: Settings) -> Iterator[Pipeline]:
    running = Pipeline.start(
        pipeline_settings(settings, BLOCK_S), ManualClock(SYSTEM_CLOCK.now_ms()), processor=False
    )
    yield running
    running.close()


def env_for(pipeline: Pipeline) -> dict[str, str]:
    return {**cli_env(pipeline.settings), "SENTINEL_ALERTS_BLOCK_PERIOD_S": str(BLOCK_S)}


def with_topics(settings: Settings) -> Settings:
    KafkaBroker(settings.kafka).admin().create_topics(Topics.from_settings(settings).specs())
    return settings


def run_cli(pipeline: Pipeline, *args: str) -> tuple[int, str]:
    """An analyst's command, in-process (it starts no loop and installs no signal handler)."""
    result = CliRunner().invoke(cli, ["alerts", *args], env=env_for(pipeline))
    return result.exit_code, result.output


def test_run_stats_queue_resolve_and_unblock_from_the_command_line(
    detector_only: Pipeline,
) -> None:
    pipeline = detector_only
    pipeline.history("u1")
    pipeline.pay("big", "u1", 5_000.0, pipeline.clock.now_ms())
    pipeline.detect(4)
    [alert] = pipeline.read("fraud-alerts")
    alert_id = alert["alert_id"]

    processor = subprocess.run(
        [CLI, "alerts", "--until-idle", "1"],
        env=env_for(pipeline),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert processor.returncode == 0, processor.stderr
    assert processor.stdout.splitlines()[-7:] == [
        "records        1 in 1 batch(es)",
        "alerts         CRITICAL 1",
        "actions        BLOCK_USER 1, INVESTIGATE 1, OPEN_CASE 1",
        "dead letters   none",
        "expired        none",
        "escalated      0",
        "duplicates     0 (already handled, skipped)",
    ]
    assert [a.action for a in pipeline.actions()] == [
        Action.BLOCK_USER,
        Action.OPEN_CASE,
        Action.INVESTIGATE,
    ]

    code, output = run_cli(pipeline, "stats", "--json")
    assert code == 0, output
    stats = json.loads(output)
    sla = stats.pop("sla")
    assert stats == {
        "alerts": {"CRITICAL": 1},
        "actions": {"CRITICAL": {"BLOCK_USER": 1, "INVESTIGATE": 1, "OPEN_CASE": 1}},
        "escalated": {},
        "resolved": {},
        "operator_actions": {},
        "queues": {"CRITICAL": 1, "HIGH": 0, "MEDIUM": 0, "LOW": 0},
        "control": {"blocked": 1, "step_up": 0, "watched": 0},
    }
    critical = sla["CRITICAL"]
    assert (critical["target_ms"], critical["actions"]) == (1_000, 3)
    assert critical["attainment"] == (3 - critical["missed"]) / 3
    assert [sla[t]["actions"] for t in ("HIGH", "MEDIUM", "LOW")] == [0, 0, 0]

    code, output = run_cli(pipeline, "queue")
    assert code == 0, output
    assert alert_id in output and output.endswith("1 open case(s); * = under investigation\n")

    code, output = run_cli(pipeline, "resolve", alert_id, "--label", "fraud", "--note", "skimmer")
    assert (code, output) == (
        0,
        f"resolved alert {alert_id} as FRAUD: feedback on transaction big (user u1) published "
        f"to {pipeline.topics.fraud_feedback}\n"
        f"user u1 stays blocked until {_iso(pipeline.actions()[0].expires_time)}; "
        "`stream-sentinel alerts unblock u1` lifts the block\n",
    )
    [feedback] = pipeline.read("fraud-feedback")
    label_time = feedback.pop("label_time")
    assert feedback == {
        "transaction_id": "big",
        "user_id": "u1",
        "merchant_id": "m1",
        "event_time": alert["event_time"],
        "label": "FRAUD",
        "source": "ANALYST",
        "confidence": 1.0,
        "pattern": None,
    }
    assert label_time >= alert["alert_time"] - 60_000  # the CLI's clock is the system's
    assert run_cli(pipeline, "queue") == (0, "no open cases\n")

    code, output = run_cli(pipeline, "resolve", alert_id, "--label", "legit")
    assert (code, output) == (
        2,
        f"error: alert {alert_id} was already resolved as FRAUD; nothing changed\n",
    )
    code, output = run_cli(pipeline, "resolve", "no-such-alert", "--label", "fraud")
    assert code == 2 and output.startswith("error: unknown alert id 'no-such-alert'")
    assert len(pipeline.read("fraud-feedback")) == 1

    code, output = run_cli(pipeline, "unblock", "u1")
    unblock = pipeline.actions()[-1]
    assert (code, unblock.action, unblock.user_id) == (0, Action.UNBLOCK_USER, "u1")
    assert output == (
        f"unblocked user u1 (the block ran until {_iso(pipeline.actions()[0].expires_time)}): "
        f"UNBLOCK_USER {unblock.action_id} published to {pipeline.topics.user_actions}\n"
    )
    assert run_cli(pipeline, "unblock", "u1") == (
        2,
        "error: user 'u1' is not blocked; nothing changed\n",
    )
    code, output = run_cli(pipeline, "unblock", "ghost")
    assert code == 2 and output.startswith("error: unknown user id 'ghost'")
    assert len(pipeline.actions()) == 4

    pipeline.pay("next", "u1", 20.0, pipeline.clock.now_ms())
    pipeline.detect(5)
    assert pipeline.decision("next") == ("APPROVE", [])


def test_sigterm_finishes_the_batch_and_exits_zero(settings: Settings) -> None:
    env = {**cli_env(with_topics(settings)), "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [CLI, "alerts", "run"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first.startswith("alert processor: group alert-response-group, exactly-once")
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
            process.wait()
    assert process.returncode == 0, stderr
    assert "stopping after the current batch" in stderr
    assert stdout.splitlines()[0] == "records        0 in 0 batch(es)"


def _iso(epoch_ms: int | None) -> str:
    from stream_sentinel.alerts.operator import iso_ms

    assert epoch_ms is not None
    return iso_ms(epoch_ms)
