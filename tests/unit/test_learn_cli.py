"""`stream-sentinel learn` as a user drives it, on the embedded backends."""

from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import CliRunner, Result

from stream_sentinel.cli import cli
from stream_sentinel.clients.backends import EmbeddedClients
from stream_sentinel.clock import ManualClock
from stream_sentinel.commands.context import CliContext
from stream_sentinel.commands.learn import poll_interval_ms
from stream_sentinel.transport.topics import Topics
from stream_sentinel.wire.serde import Serde
from tests.unit.learner_support import DAY, T0, traffic

pytestmark = pytest.mark.unit
LEARNING = {"label_delay_ms": DAY, "validation_ms": 2 * DAY, "retrain_every_ms": 30 * DAY}


class Desk:
    def __init__(self) -> None:
        self.clock = ManualClock(T0 + 40 * DAY)
        self.clients = EmbeddedClients(self.clock)
        self.clients.broker().admin().create_topics(Topics().specs())

    def run(self, *args: str, **learning: Any) -> Result:
        overrides = {"learning": LEARNING | learning}
        context = CliContext(clients=self.clients, clock=self.clock, overrides=overrides)
        return CliRunner().invoke(cli, list(args), obj=context)

    def send(self, seed: int) -> None:
        sent = traffic(6000, 8, seed=seed)
        serde, producer = Serde(self.clients.registry()), self.clients.broker().producer()
        rows, labels = serde.encoder("decision-features"), serde.encoder("fraud-feedback")
        for row in sent.rows:
            producer.produce("decision-features", rows(row), row["user_id"].encode())
        for label in sent.labels:
            producer.produce("fraud-feedback", labels(label), label["user_id"].encode())


def test_a_duration_that_is_not_one_fails_at_once_saying_how_to_write_it() -> None:
    result = Desk().run("learn", "--retrain-every", "soon")
    assert result.exit_code == 2
    assert result.output == (
        "error: --retrain-every 'soon' is not a duration: write it like 90s, 30m, 12h, 7d or "
        "1h30m\n"
    )


def test_the_learners_options_before_a_subcommand_are_refused() -> None:
    result = Desk().run("learn", "--until-idle", "0", "status")
    assert result.exit_code == 2
    assert result.output == (
        "error: --retrain-every, --until-idle and --instance belong to `learn` itself: drop "
        "them before `learn status`\n"
    )


def test_a_window_no_longer_than_the_delay_and_validation_is_refused() -> None:
    result = Desk().run("learn", "--until-idle", "0", window_ms=3 * DAY)
    assert result.exit_code == 2
    assert result.output == (
        f"error: the training window ({3 * DAY} ms) must be longer than the label delay "
        f"({DAY} ms) plus the validation period ({2 * DAY} ms): raise "
        "SENTINEL_LEARNING_WINDOW_MS or lower SENTINEL_LEARNING_VALIDATION_MS\n"
    )


def test_status_before_any_row_says_so() -> None:
    result = Desk().run("learn", "status")
    assert (result.exit_code, result.output) == (
        0,
        "the learner has read no decision-features rows yet\n",
    )


def test_retrain_now_then_learn_registers_a_champion_and_status_shows_it() -> None:
    desk = Desk()
    desk.send(seed=1)
    asked = desk.run("learn", "retrain-now", "--reason", "weekly", "--actor", "cli:ana")
    assert asked.exit_code == 0 and "by cli:ana: weekly" in asked.output
    ran = desk.run("learn", "--until-idle", "0")
    assert ran.exit_code == 0, ran.output
    lines = ran.output.splitlines()
    assert lines[0] == (
        "learner: group learning-group on decision-features and fraud-feedback; training set "
        "in Redis DB2 (learn:*)"
    )
    assert lines[1] == (
        "rows 6,000 and labels 865 read (0 older than the window, 0 undecodable); 1 retrain(s)"
    )
    assert lines[2].startswith("  m-") and " -> champion (request by cli:ana: weekly): " in lines[2]
    found = json.loads(desk.run("learn", "status", "--json").output)
    version = lines[2].split()[0]
    assert found["last_decision"]["version"] == version
    assert found["retrains"] == 1 and found["waiting_requests"] == 0
    assert (found["training_set"]["rows"], found["training_set"]["pending"]) == (5249, 751)
    # what the learner persisted, whatever this command's own settings say
    other = desk.run("learn", "status", "--json", retrain_every_ms=DAY, window_ms=10 * DAY)
    assert json.loads(other.output) == found
    assert found["next_retrain_ms"] == found["last_retrain_ms"] + 30 * DAY
    assert found["parameters"]["window_ms"] == 28 * DAY
    shown = desk.run("learn", "status").output.splitlines()
    assert shown[1:3] == [
        "parameters      retrain every 30d, window 28d, label delay 1d, validation 2d, one in 1 "
        "never-labelled rows kept",
        "counted at      2023-11-22 23:58:04 (event time)",
    ]
    assert shown[3] == (
        "training set    5,249 rows, 264 frauds (760 labelled, 4,489 never labelled counted "
        "legitimate)"
    )
    assert shown[-3].startswith(f"last decision   {version} -> champion (request by cli:ana:")
    assert shown[-2:] == [
        "decisions       1 kept, newest first:",
        f"  2023-11-22 23:58:04  {shown[-3].removeprefix('last decision   ')}",
    ]


def test_learn_prepares_the_model_events_topic_before_it_can_move_an_alias() -> None:
    desk = Desk.__new__(Desk)
    desk.clock = ManualClock(T0 + 40 * DAY)
    desk.clients = EmbeddedClients(desk.clock)
    topics = Topics()
    admin = desk.clients.broker().admin()
    admin.create_topics([s for s in topics.specs() if s.name != topics.model_events])
    assert topics.model_events not in admin.describe_topics([topics.model_events])
    ran = desk.run("learn", "--until-idle", "0")
    assert ran.exit_code == 0, ran.output
    assert topics.model_events in admin.describe_topics([topics.model_events])


def test_the_learners_consumers_poll_interval_is_above_the_retrain_budget() -> None:
    assert poll_interval_ms(300_000, 900.0) == 960_000
    assert poll_interval_ms(1_200_000, 900.0) == 1_200_000
    desk = Desk()
    context = CliContext(
        clients=desk.clients,
        clock=desk.clock,
        overrides={"learning": LEARNING | {"retrain_budget_s": 600.0}},
    )
    ran = CliRunner().invoke(cli, ["learn", "--until-idle", "0"], obj=context)
    assert ran.exit_code == 0, ran.output
    assert context.settings.kafka.max_poll_interval_ms == 660_000
