"""`stream-sentinel generate` as a user runs it (in process, click's CliRunner)."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from stream_sentinel.cli import cli
from stream_sentinel.generator import PATTERNS


def _invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, ["generate", *args], env=env)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--rate", "-5"], "--rate must not be negative (got -5); 0 means as fast as possible"),
        (["--count", "-1"], "--count must be a positive number of transactions (got -1)"),
        (["--count", "0"], "--count must be a positive number of transactions (got 0)"),
        (["--fraud-rate", "1.5"], "--fraud-rate must be between 0 and 1 (got 1.5); 0.01 means 1%"),
        (
            ["--fraud-rate", "-0.1"],
            "--fraud-rate must be between 0 and 1 (got -0.1); 0.01 means 1%",
        ),
        (
            ["--scenario", "holiday"],
            "unknown scenario 'holiday': choose one of baseline, new-pattern, spending-shift, "
            "merchant-wave (see --list-scenarios)",
        ),
        (["--users", "0"], "--users must be between 1 and 10,000,000 (got 0)"),
        (
            ["--duration", "soon"],
            "--duration 'soon' is not a duration: write it like 90s, 30m, 12h, 7d or 1h30m",
        ),
        (
            ["--label-delay", "-5m"],
            "--label-delay '-5m' is not a duration: write it like 90s, 30m, 12h, 7d or 1h30m",
        ),
        (
            ["--time-scale", "fast"],
            "--time-scale 'fast': give simulated seconds per wall second (e.g. 3600) or 'auto'",
        ),
        (
            ["--scenario", "new-pattern", "--switch-at", "1.5"],
            "--switch-at '1.5': a fraction of the run must be between 0 and 1 "
            "(or write a simulated time after the start, like 2d)",
        ),
        (
            ["--end-time", "3000-01-01"],
            "--end-time 3000-01-01 is in the future: simulated events must lie in the past",
        ),
        (
            ["--time-scale", "60", "--rate", "0", "--count", "10"],
            "--time-scale needs a --rate above 0: with --rate 0 the generator runs as fast as it "
            "can, so simulated time has no wall-clock pace (drop --time-scale or set --rate)",
        ),
    ],
)
def test_invalid_arguments_fail_at_once_saying_what_to_change(
    tmp_path: Path, args: list[str], message: str
) -> None:
    result = _invoke(*args, "--output", str(tmp_path / "tx.csv"))
    assert result.exit_code == 2
    assert result.stderr.strip() == f"error: {message}"
    assert list(tmp_path.iterdir()) == []


def test_unwritable_output_path(tmp_path: Path) -> None:
    target = tmp_path / "missing-dir" / "tx.csv"
    result = _invoke("--count", "10", "--output", str(target))
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        f"error: cannot write {target}: No such file or directory; choose a writable --output path"
    )


def test_output_that_is_not_csv_or_jsonl(tmp_path: Path) -> None:
    result = _invoke("--count", "10", "--output", str(tmp_path / "tx.parquet"))
    assert result.exit_code == 2
    assert "name it .csv or .jsonl (add .gz to compress)" in result.stderr


def test_unreachable_broker_fails_at_once() -> None:
    # Port 1 on loopback: nothing listens there, the connection is refused immediately.
    result = _invoke("--count", "10", env={"SENTINEL_KAFKA_BOOTSTRAP": "127.0.0.1:1"})
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        "error: cannot reach Kafka at 127.0.0.1:1: start the local stack with `stream-sentinel "
        "infra up`, or set SENTINEL_KAFKA_BOOTSTRAP to a running one; or write a file with "
        "--output"
    )


def test_list_scenarios() -> None:
    result = _invoke("--list-scenarios")
    assert result.exit_code == 0
    names = [line.split()[0] for line in result.stdout.splitlines()]
    assert names == ["baseline", "new-pattern", "spending-shift", "merchant-wave"]


def test_a_file_run_writes_labelled_rows_and_a_summary(tmp_path: Path) -> None:
    path = tmp_path / "tx.csv"
    result = _invoke(
        "--count",
        "40000",
        "--users",
        "1000",
        "--seed",
        "7",
        "--fraud-rate",
        "0.02",
        "--scenario",
        "new-pattern",
        "--switch-at",
        "0.5",
        "--output",
        str(path),
    )
    assert result.exit_code == 0, result.output
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 40_000
    assert list(rows[0])[-2:] == ["is_fraud", "fraud_pattern"]
    assert {r["fraud_pattern"] for r in rows} == {"", *PATTERNS}
    fraud = sum(r["is_fraud"] == "1" for r in rows)
    summary = result.stdout
    assert "Generated 40,000 transactions" in summary
    assert f"Fraud: {fraud:,} = {fraud / 40_000:.3%} realised (target 2.000%)" in summary
    assert "Drift: scenario new-pattern, switch at " in summary
    assert [p for p in os.listdir(tmp_path)] == ["tx.csv"]  # no temporary file left


def test_a_file_period_ends_at_the_dataset_anchor(tmp_path: Path) -> None:
    path = tmp_path / "tx.jsonl"
    result = _invoke("--count", "2000", "--users", "100", "--seed", "1", "--output", str(path))
    assert result.exit_code == 0, result.output
    last = path.read_text().splitlines()[-1]
    assert int(last.split('"timestamp":')[1].split(",")[0]) <= 1_735_689_600_000
