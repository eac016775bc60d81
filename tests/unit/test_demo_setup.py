"""The demo's set-up: flags, the scenario's time scale and settings, the local run's isolation,
the cached model, and the click command failing fast on bad input."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from stream_sentinel.cli import cli
from stream_sentinel.config import Settings, load_settings
from stream_sentinel.demo import local, model
from stream_sentinel.demo.options import DemoOptions
from stream_sentinel.demo.scenario import plan_scenario, scaled_enforcement
from stream_sentinel.errors import UsageError
from stream_sentinel.scoring.model import ModelArtifact
from stream_sentinel.scoring.store import ModelStore
from tests.unit.demo_support import NOW, tiny_model


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings("test", environ={}, overrides={"infra": {"cache_dir": tmp_path}})


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (DemoOptions(duration_s=0), "--duration must be between 5 s and 3600 s (got 0 s)"),
        (DemoOptions(duration_s=7200), "--duration must be between 5 s and 3600 s"),
        (DemoOptions(rate=0), "--rate must be between 10 and 20,000"),
        (DemoOptions(rate=50_000), "--rate must be between 10 and 20,000"),
        (DemoOptions(users=5), "--users must be between 100 and 1,000,000 (got 5)"),
        (DemoOptions(seed=-1), "--seed must be 0 or more"),
        (DemoOptions(backend="cloud"), "--backend must be one of embedded, local"),  # type: ignore[arg-type]
        (DemoOptions(keep=True), "--keep applies to --backend local only"),
    ],
)
def test_bad_options_name_the_flag_and_the_fix(options: DemoOptions, message: str) -> None:
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace(")", r"\)")):
        options.validate()


def test_the_defaults_are_valid() -> None:
    DemoOptions().validate()
    DemoOptions(backend="local", keep=True).validate()


def test_the_scenario_ends_now_and_compresses_a_day_into_twenty_seconds(
    settings: Settings,
) -> None:
    scenario = plan_scenario(DemoOptions(), settings, NOW)
    assert scenario.time_scale == pytest.approx(4320)
    assert scenario.simulated_day_s == pytest.approx(20)
    simulation = scenario.simulation
    assert simulation.end_ms == NOW  # nothing from the future
    assert (NOW - simulation.start_ms) / 86_400_000 >= 3.0  # 60 s x 4320 = 3 simulated days
    assert simulation.users == 10_000 and simulation.fraud_rate == 0.01


def test_only_enforcement_periods_are_scaled_scoring_is_production(settings: Settings) -> None:
    scenario = plan_scenario(DemoOptions(), settings, NOW)
    alerts = scenario.settings.alerts
    assert alerts.block_period_s == pytest.approx(20.0)  # 24 h / 4320
    assert alerts.step_up_period_s == pytest.approx(20.0)
    assert alerts.watch_period_s == pytest.approx(140.0)  # 7 d / 4320
    assert alerts.escalation_window_s == settings.alerts.escalation_window_s  # event time
    assert scenario.settings.detector == settings.detector
    assert scenario.settings.kafka == settings.kafka


def test_enforcement_periods_never_drop_below_a_second(settings: Settings) -> None:
    scaled = scaled_enforcement(settings.alerts, 10_000_000)
    assert set(scaled.values()) == {1.0}


def test_a_local_run_has_its_own_topics_keys_and_groups(settings: Settings) -> None:
    base = settings.with_overrides(kafka={"topic_prefix": "t1-"}, redis={"key_namespace": "t1"})
    tag = local.run_tag(7, NOW)
    assert tag == f"demo-{NOW // 1000:x}-7"
    tagged = local.tagged_settings(base, tag)
    assert tagged.kafka.topic_prefix == f"t1-{tag}-"
    assert tagged.redis.key_namespace == f"t1-{tag}"
    assert tagged.detector.group_id == f"{tag}-fraud-detection-group"
    assert tagged.detector.feedback_group_id == f"{tag}-fraud-detection-feedback"
    assert tagged.alerts.group_id == f"{tag}-alert-response-group"
    plain = local.tagged_settings(settings, tag)
    assert (plain.kafka.topic_prefix, plain.redis.key_namespace) == (f"{tag}-", tag)


def test_clean_up_refuses_to_touch_data_outside_a_run_namespace(settings: Settings) -> None:
    from stream_sentinel.clients.backends import embedded_backends

    with pytest.raises(ValueError, match="refusing"):
        local.remove_run_data(embedded_backends(), settings)


def test_an_unreachable_stack_fails_at_once_with_how_to_start_it(settings: Settings) -> None:
    dead = settings.with_overrides(kafka={"bootstrap": "127.0.0.1:1"})
    with pytest.raises(Exception, match="stream-sentinel infra up"):
        local.require_stack(dead)


class _Quiet:
    def stage(self, description: str, total: int | None) -> None: ...
    def advance(self, completed: int) -> None: ...
    def done(self, message: str) -> None: ...


def test_the_model_is_trained_once_then_reused(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, tiny_artifact: Any
) -> None:
    trained: list[int] = []

    def fake_training(settings: Settings, progress: Any) -> Any:
        trained.append(1)
        return tiny_artifact

    monkeypatch.setattr(model, "train_demo_model", fake_training)
    notices: list[str] = []
    first = model.ensure_model(settings, _Quiet(), notices.append)
    second = model.ensure_model(settings, _Quiet(), notices.append)
    assert (first.trained_now, second.trained_now, len(trained)) == (True, False, 1)
    assert second.artifact.version == first.artifact.version
    assert first.directory == Path(settings.infra.cache_dir) / "demo-models"
    assert "training one first" in notices[0] and len(notices) == 1


def test_a_model_from_another_recipe_is_not_reused(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, tiny_artifact: Any
) -> None:
    tiny_artifact.metadata["source"] = "somebody's own model"
    ModelStore(model.demo_model_dir(settings)).publish(tiny_artifact)
    assert model.cached_model(ModelStore(model.demo_model_dir(settings))) is None


@pytest.fixture
def tiny_artifact() -> ModelArtifact:
    return tiny_model()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--duration", "soon"], "'soon' is not a duration"),
        (["--duration", "1"], "--duration must be between 5 s and 3600 s"),
        (["--rate", "-5"], "--rate must be between 10 and 20,000"),
        (["--backend", "cloud"], "'cloud' is not one of 'embedded', 'local'"),
        (["--users", "10"], "--users must be between 100"),
        (["--keep"], "--keep applies to --backend local only"),
    ],
)
def test_the_command_rejects_bad_input_before_starting_anything(
    args: list[str], message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def must_not_run(*_: Any, **__: Any) -> None:
        raise AssertionError("the demo started despite bad input")

    monkeypatch.setattr("stream_sentinel.demo.run.run_demo", must_not_run)
    result = CliRunner().invoke(cli, ["demo", *args])
    assert result.exit_code == 2
    assert message in result.output


def test_durations_may_be_written_with_units() -> None:
    from stream_sentinel.commands.demo import _seconds

    assert _seconds(None, None, "2m") == 120  # type: ignore[arg-type]
    assert _seconds(None, None, "90s") == 90  # type: ignore[arg-type]
    assert _seconds(None, None, "12.5") == 12.5  # type: ignore[arg-type]
