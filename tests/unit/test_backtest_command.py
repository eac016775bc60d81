"""`stream-sentinel backtest` refusing bad input at once, with a message that says what to do
(in process, click's CliRunner), and the release rule every label follows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner, Result

from stream_sentinel.backtest.training import released_until
from stream_sentinel.cli import cli

HISTORY = "card,when,amt,fraud\n1,2019-01-01 00:00:18,1.0,0\n"


def _invoke(tmp_path: Path, *args: str) -> Result:
    path = tmp_path / "h.csv"
    path.write_text(HISTORY)
    return CliRunner().invoke(cli, ["backtest", str(path), "--label-column", "fraud", *args])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--map", "user_id=cc_num,amount=amt,timestamp=when"],
            "--map user_id=cc_num: there is no column 'cc_num'; the columns are: card, when, "
            "amt, fraud",
        ),
        (
            ["--map", "user_id=card,amount=amt,timestamp=when", "--label-delay", "a week"],
            "--label-delay 'a week' is not a duration",
        ),
        (
            ["--map", "user_id=card,amount=amt,timestamp=when", "--retrain-every", "0d"],
            "--retrain-every '0d' must be longer than zero",
        ),
        (
            ["--map", "user_id=card,amount=amt,timestamp=when", "--learner", "forest"],
            "Invalid value for '--learner': 'forest' is not one of 'batch', 'online', 'both'.",
        ),
        (
            [
                "--map",
                "user_id=card,amount=amt,timestamp=when",
                *("--train-window", "2d", "--validation", "3d"),
            ],
            "--validation 3d leaves no training period inside --train-window 2d: pass "
            "--validation 16h or a --train-window longer than 3d",
        ),
        (
            ["--map", "user_id=card,amount=amt,timestamp=when", "--train-window", "3d"],
            "the validation period 3d (the settings' default: learning.validation_ms, "
            "SENTINEL_LEARNING_VALIDATION_MS) leaves no training period inside --train-window "
            "3d: pass --validation 1d or a --train-window longer than 3d",
        ),
        (
            [
                "--map",
                "user_id=card,amount=amt,timestamp=when",
                *("--model", "models", "--learner", "online", "--validation", "1d"),
            ],
            "--learner, --validation: used only when the backtest trains, and with --model and "
            "no --retrain-every it trains nothing: add --retrain-every (e.g. 7d) or leave "
            "--learner, --validation out",
        ),
        (
            ["--map", "user_id=card,amount=amt,timestamp=when", "--validation", "0h"],
            "--validation '0h' must be longer than zero",
        ),
        (
            ["--map", "user_id=card,amount=amt,timestamp=when", "--timezone", "Nowhere"],
            "--timezone 'Nowhere' is not a time zone",
        ),
        (
            ["--map", "user_id=card,amount=amt,timestamp=when", "--output", "/no/such/dir/s.csv"],
            "--output /no/such/dir/s.csv: the directory /no/such/dir does not exist",
        ),
        (
            ["--map", "user_id=card,amount=amt,timestamp=when"],
            "the warmup (14d) covers the whole history (2019-01-01T00:00:18Z .. "
            "2019-01-01T00:00:18Z): use a shorter --warmup",
        ),
    ],
)
def test_refused_with_advice(tmp_path: Path, args: list[str], message: str) -> None:
    result = _invoke(tmp_path, *args)
    assert result.exit_code == 2
    last = result.output.splitlines()[-1]
    assert last.lower().startswith("error: ") and message in last


def test_a_missing_file(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["backtest", str(tmp_path / "nope.csv"), "--label-column", "y"]
    )
    assert (result.exit_code, result.output) == (
        2,
        f"error: {tmp_path / 'nope.csv'}: no such file\n",
    )


def test_a_label_is_known_after_its_delay_and_never_for_its_own_score() -> None:
    ts = np.array([0, 10, 10, 20], dtype=np.int64)
    assert released_until(ts, 15, 5) == 3  # 0, 10 and 10 (10 + 5 <= 15)
    assert released_until(ts, 14, 5) == 1
    assert released_until(ts, 10, 0) == 1  # not the rows at 10 themselves
    assert released_until(ts, 11, 0) == 3
