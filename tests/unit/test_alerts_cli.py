"""`stream-sentinel alerts --help`: every command says what it does in one sentence."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from stream_sentinel.cli import cli
from stream_sentinel.commands.alerts import alerts

pytestmark = pytest.mark.unit


def test_alerts_lists_its_commands() -> None:
    result = CliRunner().invoke(cli, ["alerts", "--help"])
    assert result.exit_code == 0
    listed = result.output.split("Commands:\n")[1].splitlines()
    assert [line.split()[0] for line in listed] == ["queue", "resolve", "run", "stats", "unblock"]


@pytest.mark.parametrize("name", [None, "run", "stats", "queue", "resolve", "unblock"])
def test_every_command_has_a_one_sentence_help(name: str | None) -> None:
    command: click.Command = alerts if name is None else alerts.commands[name]
    text = (command.help or "").strip()
    assert text.endswith(".") and text.count(". ") == 0 and "\n" not in text
    for param in command.params:
        if isinstance(param, click.Option):
            assert param.help, f"{name} {param.name} has no help"


def test_a_bad_label_is_refused_before_anything_is_contacted() -> None:
    result = CliRunner().invoke(cli, ["alerts", "resolve", "a-1", "--label", "maybe"])
    assert result.exit_code == 2
    assert "'maybe' is not one of 'fraud', 'legit'" in result.output
