"""Each command runs as its own principal: the service it is, or admin for the admin commands."""

from __future__ import annotations

from pathlib import Path
from typing import NoReturn

import pytest
from click.testing import CliRunner

from stream_sentinel.cli import cli
from stream_sentinel.commands.context import CliContext, as_principal
from stream_sentinel.config import Settings, load_settings
from stream_sentinel.infra.acls import PRINCIPALS
from stream_sentinel.infra.redis_users import REDIS_USERS
from stream_sentinel.infra.registry_users import REGISTRY_ROLES
from stream_sentinel.infra.secrets import new_credentials, write_credentials
from stream_sentinel.infra.secure import StackSecurity

pytestmark = pytest.mark.unit


def _secure_settings(tmp_path: Path) -> Settings:
    """The test profile pointed at a secure stack's secrets file, logged in as admin."""
    security = StackSecurity(tmp_path / "security")
    counter = iter(range(100))
    write_credentials(
        security.secrets_file,
        new_credentials(PRINCIPALS, lambda: f"pw-{next(counter)}", REDIS_USERS, REGISTRY_ROLES),
    )
    settings = load_settings("test")
    return settings.model_copy(
        update={
            "kafka": security.client_kafka(settings.kafka, "admin"),
            "redis": security.client_redis(settings.redis, "admin"),
            "registry": security.client_registry(settings.registry, "admin"),
        }
    )


def _users(settings: Settings) -> tuple[str | None, str | None, str | None]:
    redis_user = settings.redis.url.split("//", 1)[1].split("@", 1)[0]
    return settings.kafka.sasl_username, redis_user, settings.registry.username


def test_a_principal_the_secrets_file_names_replaces_every_configured_user(
    tmp_path: Path,
) -> None:
    settings = as_principal(_secure_settings(tmp_path), "detector")
    assert _users(settings) == ("detector", "detector", "detector")
    assert settings.kafka.login_password() is not None


def test_a_connection_whose_file_does_not_name_the_principal_keeps_its_user(
    tmp_path: Path,
) -> None:
    # the generator keeps no state in Redis: it has no Redis user, so Redis stays admin's
    settings = as_principal(_secure_settings(tmp_path), "generator")
    assert _users(settings) == ("generator", "admin", "generator")


def test_without_a_secrets_file_the_configured_users_stay() -> None:
    settings = load_settings("test")
    assert as_principal(settings, "detector") == settings


class _Reached(Exception):
    """The command asked for its settings: as far as this test goes."""


COMMANDS = [
    (["detect", "--until-idle", "0"], "detector"),
    (["generate", "--count", "1"], "generator"),
    (["alerts", "run", "--until-idle", "0"], "alerts"),
    (["learn", "--until-idle", "0"], "learner"),
    (["drift", "run", "--until-idle", "0"], "drift"),
    (["experiments", "run", "--until-idle", "0"], "experiments"),
    (["console"], "console"),
    (["feedback", "run", "--until-idle", "0"], "learner"),
    (["topics", "create"], "admin"),
    (["topics", "list"], "admin"),
    (["schemas", "register"], "admin"),
    (["models", "list"], "admin"),
    (["check"], "admin"),
]


@pytest.mark.parametrize(("args", "principal"), COMMANDS, ids=lambda v: " ".join(v))
def test_each_command_asks_for_its_principal_before_its_settings(
    monkeypatch: pytest.MonkeyPatch, args: list[str], principal: str
) -> None:
    asked: list[str | None] = []

    def settings(self: CliContext) -> NoReturn:
        asked.append(self.principal)
        raise _Reached

    monkeypatch.setattr(CliContext, "settings", property(settings))
    result = CliRunner().invoke(cli, args)
    assert isinstance(result.exception, _Reached), result.output
    assert asked == [principal]
