"""The console's settings: where it listens, where its users live, how long a session lasts.

Read like every other section (``SENTINEL_CONSOLE_*`` over code defaults), e.g.
``SENTINEL_CONSOLE_USERS_FILE=/etc/stream-sentinel/console-users.json``.

>>> settings = load_console_settings({"SENTINEL_CONSOLE_PORT": "9090"})
>>> settings.port, settings.host
(9090, '127.0.0.1')
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from pathlib import Path

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import SettingsConfigDict

from stream_sentinel.config.sources import SectionSettings, section_sources
from stream_sentinel.errors import ConfigError

DEFAULT_USERS_FILE = Path("~/.config/stream-sentinel/console-users.json")


class ConsoleSettings(SectionSettings):
    """Listening address, the users file and session lifetime of `stream-sentinel console`."""

    model_config = SettingsConfigDict(env_prefix="SENTINEL_CONSOLE_")

    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    users_file: Path = DEFAULT_USERS_FILE
    # Signs session cookies; when unset a random key is drawn per process (sessions then end
    # when the console restarts).
    session_secret: SecretStr | None = None
    session_ttl_s: int = Field(8 * 3600, ge=60)
    # The console's own reads stay bounded: records per browse, keys per scan.
    max_records: int = Field(200, ge=1, le=5000)
    max_keys: int = Field(500, ge=1, le=50_000)
    # How long an open case may wait for an analyst before it is shown as over its SLA.
    case_sla_minutes: dict[str, int] = {"CRITICAL": 15, "HIGH": 60, "MEDIUM": 240, "LOW": 1440}
    # Offsets are sampled this often for the overview's rates and charts (0: only on request).
    sample_interval_s: float = Field(5.0, ge=0)

    @property
    def users_path(self) -> Path:
        return self.users_file.expanduser()

    @property
    def loopback(self) -> bool:
        return is_loopback(self.host)


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and ``localhost``: only this machine can connect.

    >>> is_loopback("127.0.0.1"), is_loopback("0.0.0.0"), is_loopback("localhost")
    (True, False, True)
    """
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def load_console_settings(
    environ: Mapping[str, str] | None = None, **explicit: object
) -> ConsoleSettings:
    """The console's settings from ``environ`` (the process environment when None)."""
    try:
        if environ is None:
            return ConsoleSettings(**explicit)  # type: ignore[arg-type]
        with section_sources({}, environ):
            return ConsoleSettings(**explicit)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise ConfigError(
            f"console settings rejected ({problems}); check SENTINEL_CONSOLE_*"
        ) from None
