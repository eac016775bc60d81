"""The local schema registry: ``stream-sentinel schema-registry`` run as a service process.

It keeps its state in Kafka's ``_schemas`` topic, so it starts after Kafka is healthy and is told
where Kafka is the way every Stream-Sentinel process is: through ``SENTINEL_*`` variables, built
here from the launcher's own settings rather than inherited from the caller's shell.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel, SecretStr

from stream_sentinel.config import Settings
from stream_sentinel.infra.endpoints import BIND_HOST
from stream_sentinel.infra.process import Launch
from stream_sentinel.infra.service import LocalService, child_env


def section_env(prefix: str, section: BaseModel) -> dict[str, str]:
    """A settings section as the ``SENTINEL_*`` variables that rebuild it in a child process."""
    env = {}
    for field in type(section).model_fields:
        value = _env_value(getattr(section, field))
        if value is not None:
            env[prefix + field.upper()] = value
    return env


def _env_value(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


def registry_env(settings: Settings) -> dict[str, str]:
    """The profile, the Kafka and registry sections and the start timeout: what it reads."""
    return {
        "SENTINEL_ENV": settings.env,
        **section_env("SENTINEL_KAFKA_", settings.kafka),
        **section_env("SENTINEL_REGISTRY_", settings.registry),
        "SENTINEL_INFRA_START_TIMEOUT_S": str(settings.infra.start_timeout_s),
    }


def registry_command(port: int) -> list[str]:
    """The registry through this interpreter, so it runs the same installed package."""
    return [
        sys.executable,
        "-m",
        "stream_sentinel",
        "schema-registry",
        "--host",
        BIND_HOST,
        "--port",
        str(port),
    ]


def probe_registry(url: str, timeout_s: float) -> bool:
    """True when ``GET /`` answers 200."""
    import httpx

    try:
        return httpx.get(url.rstrip("/") + "/", timeout=timeout_s).status_code == 200
    except httpx.HTTPError:
        return False


class RegistryService(LocalService):
    """The schema registry, started after Kafka, logging its output to one file."""

    name = "registry"
    title = "Schema registry"

    @property
    def log_file(self) -> Path:
        return self.console_log

    @property
    def port_roles(self) -> dict[str, int]:
        return {"schema registry": self.ports.registry}

    @property
    def endpoint(self) -> str:
        return f"http://{BIND_HOST}:{self.ports.registry}"

    def require_installed(self) -> None:
        """Nothing to install: it is part of this package."""

    def prepare(self) -> None:
        self.logs_dir.mkdir(parents=True, exist_ok=True)

    def launch(self) -> Launch:
        argv = registry_command(self.ports.registry)
        return Launch(
            argv=argv,
            env=child_env(registry_env(self.settings)),
            cwd=self.home,
            console_log=self.console_log,
            marker=" ".join(argv[3:]),
        )

    def probe(self, timeout_s: float) -> bool:
        return probe_registry(self.settings.registry.url, timeout_s)
