"""Bad settings and bad flags end every command with one `error:` line and exit 2; a worker
or the broker failing ends `detect` non-zero with the error that stopped it (no processes)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from stream_sentinel.cli import cli
from stream_sentinel.commands.context import naming_the_broker
from stream_sentinel.config import RedisSettings, _describe_problem, load_settings
from stream_sentinel.detector.runner import WorkerFailed, _raise_for_failed
from stream_sentinel.errors import ProducerFenced, ServiceUnavailable, TransportError, UsageError
from stream_sentinel.generator.request import GenerateRequest
from stream_sentinel.generator.timing import NOT_A_SWITCH_POINT, SwitchAt

#: Every command that reads settings, with the arguments it needs to get that far.
COMMANDS = [
    ["detect"],
    ["alerts"],
    ["alerts", "run"],
    ["alerts", "stats"],
    ["alerts", "queue"],
    ["alerts", "resolve", "a-1", "--label", "fraud"],
    ["alerts", "unblock", "u1"],
    ["status"],
    ["check"],
    ["topics", "list"],
    ["topics", "create"],
    ["dlq", "show"],
    ["dlq", "replay", "--yes"],
    ["tail", "fraud-scores"],
    ["schemas", "list"],
    ["schemas", "register"],
    ["infra", "status"],
    ["infra", "down"],
    ["generate", "--count", "1"],
]

MALFORMED_RULES = (
    "error: SENTINEL_DETECTOR_RULES is not valid JSON (Expecting property name enclosed in "
    'double quotes at character 2); set it to a JSON object such as {"high_amount_multiple": 5.0}'
)
MISTYPED_BATCH = (
    "error: invalid settings: max_batch (SENTINEL_DETECTOR_MAX_BATCH): Input should be a valid "
    "integer, unable to parse string as an integer (got 'abc'); set SENTINEL_DETECTOR_MAX_BATCH "
    "to a value such as 1000 (the default), or unset it"
)


def _invoke(args: list[str], env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, args, env=env)


def _assert_one_error_line(result: Result, line: str) -> None:
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)  # not an exception escaping the command
    assert result.stderr.splitlines() == [line]
    assert "Traceback" not in result.output


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_a_settings_table_that_is_not_json_is_one_line_naming_the_variable(
    command: list[str],
) -> None:
    result = _invoke(command, env={"SENTINEL_DETECTOR_RULES": "{not json"})
    _assert_one_error_line(result, MALFORMED_RULES)


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_a_wrongly_typed_scalar_is_one_line_naming_the_variable(command: list[str]) -> None:
    result = _invoke(command, env={"SENTINEL_DETECTOR_MAX_BATCH": "abc"})
    _assert_one_error_line(result, MISTYPED_BATCH)


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        (
            "SENTINEL_ALERTS_SLA_MS",
            "CRITICAL=500",
            "SENTINEL_ALERTS_SLA_MS is not valid JSON (Expecting value at character 1); "
            'set it to a JSON object such as {"CRITICAL": 1000}',
        ),
        (
            "SENTINEL_ALERTS_POLICY",
            '{"HIGH": ["STEP_UP"',
            "SENTINEL_ALERTS_POLICY is not valid JSON (Expecting ',' delimiter at character 20); "
            'set it to a JSON object such as {"CRITICAL": ["BLOCK_USER", "OPEN_CASE", '
            '"INVESTIGATE"]}',
        ),
        (
            "SENTINEL_REGISTRY_JSON_TOPICS",
            "fraud-feedback",
            "SENTINEL_REGISTRY_JSON_TOPICS is not valid JSON (Expecting value at character 1); "
            'set it to a JSON array such as ["..."]',
        ),
        (
            # names are case-insensitive, as pydantic-settings reads them
            "sentinel_detector_band_rates",
            "{CRITICAL: 0.01}",
            "SENTINEL_DETECTOR_BAND_RATES is not valid JSON (Expecting property name enclosed in "
            'double quotes at character 2); set it to a JSON object such as {"CRITICAL": 0.001}',
        ),
        (
            "SENTINEL_DETECTOR_RULES",
            '{"high_amount_multipel": 8}',
            "invalid settings: rules.high_amount_multipel (SENTINEL_DETECTOR_RULES): Extra "
            """inputs are not permitted (got '{"high_amount_multipel": 8}'); set """
            'SENTINEL_DETECTOR_RULES to a JSON object such as {"high_amount_multiple": 5.0}',
        ),
        (
            "SENTINEL_DETECTOR_GUARANTEE",
            "exactly-twice",
            "invalid settings: guarantee (SENTINEL_DETECTOR_GUARANTEE): Input should be "
            "'exactly-once' or 'at-least-once' (got 'exactly-twice'); set "
            "SENTINEL_DETECTOR_GUARANTEE to a value such as exactly-once (the default), "
            "or unset it",
        ),
        (
            "SENTINEL_KAFKA_ENABLE_IDEMPOTENCE",
            "maybe",
            "invalid settings: enable_idempotence (SENTINEL_KAFKA_ENABLE_IDEMPOTENCE): Input "
            "should be a valid boolean, unable to interpret input (got 'maybe'); set "
            "SENTINEL_KAFKA_ENABLE_IDEMPOTENCE to a value such as true (the default), or unset it",
        ),
        (
            "SENTINEL_ALERTS_ESCALATION_COUNT",
            "100",
            "invalid settings: SENTINEL_ALERTS_*: escalation_count (100) cannot exceed "
            "history_cap (50): the history would never hold enough alerts to escalate",
        ),
    ],
)
def test_each_kind_of_bad_value_says_what_to_write(variable: str, value: str, message: str) -> None:
    _assert_one_error_line(_invoke(["status"], env={variable: value}), f"error: {message}")


def test_a_rejected_password_is_never_echoed() -> None:
    error = {"loc": ("password",), "msg": "String should have at least 12 characters"}
    described = _describe_problem(RedisSettings, error, {"SENTINEL_REDIS_PASSWORD": "hunter2"})
    assert described == (
        "password (SENTINEL_REDIS_PASSWORD): String should have at least 12 characters; "
        "set SENTINEL_REDIS_PASSWORD to a valid value, or unset it"
    )


# -- generate --switch-at -------------------------------------------------------------------------
@pytest.mark.parametrize("text", ["abc", "", "soon", "-2d", "abc%", "2x", "1h30"])
def test_a_switch_point_that_is_no_fraction_percentage_or_duration_names_all_three(
    text: str,
) -> None:
    with pytest.raises(UsageError) as err:
        SwitchAt.parse(text)
    assert str(err.value) == f"--switch-at {text!r} {NOT_A_SWITCH_POINT}"
    assert NOT_A_SWITCH_POINT == (
        "is not a switch point: write a fraction of the run like 0.5, a percentage like 50%, "
        "or a simulated time after the start like 2d"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0.5", SwitchAt(fraction=0.5)),
        (".25", SwitchAt(fraction=0.25)),
        ("0", SwitchAt(fraction=0.0)),
        ("1", SwitchAt(fraction=1.0)),
        ("1e-1", SwitchAt(fraction=0.1)),  # any bare number is a fraction, never seconds
        (" 0.75 ", SwitchAt(fraction=0.75)),
        ("50%", SwitchAt(fraction=0.5)),
        ("100%", SwitchAt(fraction=1.0)),
        ("2d", SwitchAt(offset_s=172_800.0)),
        ("1h30m", SwitchAt(offset_s=5_400.0)),
        ("90s", SwitchAt(offset_s=90.0)),
    ],
)
def test_fractions_percentages_and_durations_are_still_accepted(
    text: str, expected: SwitchAt
) -> None:
    assert SwitchAt.parse(text) == expected


@pytest.mark.parametrize("text", ["-1", "1.5", "150%", "nan", "inf"])
def test_a_fraction_outside_the_run_is_refused(text: str) -> None:
    with pytest.raises(UsageError, match="a fraction of the run must be between 0 and 1"):
        SwitchAt.parse(text)


def test_the_switch_point_is_checked_even_for_a_scenario_that_never_switches() -> None:
    with pytest.raises(UsageError, match=r"--switch-at 'abc' is not a switch point"):
        GenerateRequest(scenario="baseline", switch_at="abc").validate()
    assert GenerateRequest(scenario="baseline", switch_at="2d").switch() is None


@pytest.mark.parametrize("scenario", ["baseline", "new-pattern"])
def test_generate_refuses_a_bad_switch_point_before_it_starts(
    tmp_path: Path, scenario: str
) -> None:
    result = _invoke(
        ["generate", "--scenario", scenario, "--switch-at", "abc", "-o", str(tmp_path / "t.csv")]
    )
    _assert_one_error_line(result, f"error: --switch-at 'abc' {NOT_A_SWITCH_POINT}")
    assert list(tmp_path.iterdir()) == []


def test_generate_to_kafka_refuses_a_bad_switch_point_before_looking_for_a_broker() -> None:
    result = _invoke(
        ["generate", "--switch-at", "abc"], env={"SENTINEL_KAFKA_BOOTSTRAP": "127.0.0.1:1"}
    )
    _assert_one_error_line(result, f"error: --switch-at 'abc' {NOT_A_SWITCH_POINT}")


@pytest.mark.parametrize("text", ["0.5", "50%", "2d"])
def test_generate_accepts_every_form_of_switch_point(tmp_path: Path, text: str) -> None:
    path = tmp_path / "t.csv"
    args = ["generate", "--scenario", "new-pattern", "--count", "20", "--users", "10"]
    result = _invoke([*args, "--seed", "1", "--switch-at", text, "-o", str(path)])
    assert result.exit_code == 0, result.output
    assert len(path.read_text().splitlines()) == 21  # header + 20 rows


# -- what ends `detect` ---------------------------------------------------------------------------
def test_a_broker_failure_that_ends_the_detector_names_the_broker() -> None:
    settings = load_settings(environ={"SENTINEL_KAFKA_BOOTSTRAP": "10.0.0.7:9092"})
    with pytest.raises(TransportError) as err, naming_the_broker(settings, "detector"):
        raise TransportError("watermarks of transactions[0]: Local: Unknown partition")
    assert str(err.value) == (
        "the detector stopped: Kafka at 10.0.0.7:9092 failed (watermarks of transactions[0]: "
        "Local: Unknown partition). Is the broker running? `stream-sentinel infra status` shows "
        "the local one"
    )


def test_a_fenced_producer_keeps_its_own_message() -> None:
    fenced = ProducerFenced("another detector with transactional id d-0 took over")
    with pytest.raises(ProducerFenced) as err, naming_the_broker(load_settings(environ={}), "x"):
        raise fenced
    assert err.value is fenced


@dataclass
class _Child:
    exitcode: int | None


def test_the_first_failed_workers_own_error_ends_the_run() -> None:
    redis_down = ServiceUnavailable("Redis at redis://127.0.0.1:6379 is unavailable")
    failed = {3: redis_down, 2: ServiceUnavailable("Redis too")}
    with pytest.raises(ServiceUnavailable) as err:
        _raise_for_failed([_Child(1), _Child(1)], 2, {}, failed)
    assert str(err.value) == "Redis too"  # worker 2, the first slot


@pytest.mark.parametrize(
    ("exitcode", "ending"),
    [
        (1, "exited with status 1 before finishing (see its output above)"),
        (-9, "was killed by signal 9"),
        (None, "did not stop within 30 s of the others"),
    ],
)
def test_a_worker_that_died_without_finishing_fails_the_run(
    exitcode: int | None, ending: str
) -> None:
    with pytest.raises(WorkerFailed) as err:
        _raise_for_failed([_Child(0), _Child(exitcode)], 0, {0: {"records": 5}}, {})
    assert str(err.value) == f"detector worker 1 {ending}"
