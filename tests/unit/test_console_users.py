"""Console users: scrypt hashes, the users file, `console add-user`, the console's settings."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from stream_sentinel.cli import cli
from stream_sentinel.console.settings import is_loopback, load_console_settings
from stream_sentinel.console.users import Role, UserBook, hash_password, verify_password
from stream_sentinel.errors import ConfigError, UsageError

pytestmark = pytest.mark.unit


def test_a_hash_verifies_its_password_only_and_is_salted() -> None:
    first, second = hash_password("s3cret-pass", cost=16), hash_password("s3cret-pass", cost=16)
    assert first != second and first.startswith("scrypt$16$8$1$")
    assert verify_password("s3cret-pass", first) and verify_password("s3cret-pass", second)
    assert not verify_password("s3cret-pasS", first)
    assert not verify_password("s3cret-pass", "plaintext")


def test_the_users_file_holds_hashes_only_and_is_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "conf" / "users.json"
    book = UserBook()
    assert book.add("ana", Role.ANALYST, "correct horse", cost=16) is True
    assert book.add("ana", Role.ADMIN, "correct horse 2", cost=16) is False
    book.save(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "correct horse" not in path.read_text()
    loaded = UserBook.load(path)
    assert loaded.users["ana"].role is Role.ADMIN
    assert loaded.authenticate("ana", "correct horse 2") is not None
    assert loaded.authenticate("ana", "correct horse") is None


def test_names_and_short_passwords_are_refused() -> None:
    with pytest.raises(UsageError, match="user name 'a b' is not allowed"):
        UserBook().add("a b", Role.VIEWER, "long enough", cost=16)
    with pytest.raises(UsageError, match="at least 8 characters"):
        UserBook().add("ana", Role.VIEWER, "short", cost=16)


def test_an_unreadable_users_file_says_how_to_fix_it(tmp_path: Path) -> None:
    path = tmp_path / "users.json"
    path.write_text('{"users": {"ana": {"role": "boss"}}}')
    with pytest.raises(ConfigError, match="recreate it with `stream-sentinel console add-user`"):
        UserBook.load(path)


def test_add_user_reads_the_password_from_stdin_into_the_configured_file(tmp_path: Path) -> None:
    path = tmp_path / "console-users.json"
    env = {"SENTINEL_CONSOLE_USERS_FILE": str(path)}
    result = CliRunner(env=env).invoke(
        cli,
        ["console", "add-user", "vera", "--role", "viewer", "--password-stdin"],
        input="a long password\n",
    )
    assert result.exit_code == 0, result.output
    assert result.output == f"added console user vera (viewer) in {path}\n"
    stored = json.loads(path.read_text())["users"]["vera"]
    assert stored["role"] == "viewer" and verify_password("a long password", stored["password"])


def test_add_user_refuses_an_unknown_role(tmp_path: Path) -> None:
    env = {"SENTINEL_CONSOLE_USERS_FILE": str(tmp_path / "u.json")}
    result = CliRunner(env=env).invoke(
        cli,
        ["console", "add-user", "vera", "--role", "root", "--password-stdin"],
        input="a long password\n",
    )
    assert result.exit_code == 2
    assert "'root' is not one of 'viewer', 'analyst', 'admin'" in result.output


def test_console_settings_come_from_the_environment() -> None:
    settings = load_console_settings(
        {"SENTINEL_CONSOLE_HOST": "0.0.0.0", "SENTINEL_CONSOLE_USERS_FILE": "~/u.json"}
    )
    assert (settings.host, settings.port, settings.loopback) == ("0.0.0.0", 8080, False)
    assert settings.users_path == Path("~/u.json").expanduser()
    with pytest.raises(ConfigError, match="port"):
        load_console_settings({"SENTINEL_CONSOLE_PORT": "70000"})


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.0.1", True),
        ("::1", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("10.0.0.5", False),
        ("example.org", False),
    ],
)
def test_only_loopback_addresses_count_as_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_the_console_command_refuses_a_public_address_without_users(tmp_path: Path) -> None:
    env = {"SENTINEL_CONSOLE_USERS_FILE": str(tmp_path / "none.json")}
    result = CliRunner(env=env).invoke(cli, ["console", "--host", "0.0.0.0", "--port", "8099"])
    assert result.exit_code == 2
    assert "the console refuses to listen on 0.0.0.0 without users" in result.output
