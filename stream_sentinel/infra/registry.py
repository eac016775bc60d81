"""The local schema registry: ``stream-sentinel schema-registry`` run as a service process.

It keeps its state in Kafka's ``_schemas`` topic, so it starts after Kafka is healthy and is told
where Kafka is the way every Stream-Sentinel process is: through ``SENTINEL_*`` variables, built
here from the launcher's own settings rather than inherited from the caller's shell.
"""

from __future__ import annotations

import json
import ssl
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel, SecretStr

import stream_sentinel
from stream_sentinel.config import Settings
from stream_sentinel.infra.endpoints import BIND_HOST, StackPorts
from stream_sentinel.infra.process import Launch, free_ports, port_in_use
from stream_sentinel.infra.secure import StackSecurity
from stream_sentinel.infra.service import LocalService, child_env

PORT_FILE = "port"


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
    """The profile, the Kafka and registry sections and the start timeout: what it reads.

    ``PYTHONPATH`` names the directory this package was imported from, so the registry runs
    this very code even when another copy of it is installed (a work tree beside an install).
    """
    return {
        "PYTHONPATH": str(Path(stream_sentinel.__file__).resolve().parents[1]),
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


def probe_registry(
    url: str, timeout_s: float, verify: str | bool = True, auth: tuple[str, str] | None = None
) -> bool:
    """True when ``GET /`` answers 200 (``verify``: a CA file for https; ``auth``: basic)."""
    import httpx

    try:
        trust = ssl.create_default_context(cafile=verify) if isinstance(verify, str) else verify
        answer = httpx.get(url.rstrip("/") + "/", timeout=timeout_s, verify=trust, auth=auth)
        return answer.status_code == 200
    except httpx.HTTPError:
        return False


def instance_name(instance: int) -> str:
    """``registry`` for the first instance, ``registry-2`` and on for the others."""
    return "registry" if instance == 1 else f"registry-{instance}"


def started_instances(state_dir: Path) -> int:
    """How many registry instances an earlier `infra up` set up in ``state_dir``."""
    instance = 1
    while (state_dir / instance_name(instance + 1) / PORT_FILE).is_file():
        instance += 1
    return instance


class RegistryService(LocalService):
    """One schema registry instance, started after Kafka, logging its output to one file.

    The first listens on the configured registry port (the one clients dial); the others on
    free ports chosen at their first start and kept in their directory, so a restart and
    `infra status` find them where they were.
    """

    name = "registry"
    title = "Schema registry"

    def __init__(
        self,
        settings: Settings,
        ports: StackPorts,
        state_dir: Path,
        instance: int = 1,
        security: StackSecurity | None = None,
    ) -> None:
        self.instance = instance
        self.security = security
        self.name = instance_name(instance)
        self.title = "Schema registry" if instance == 1 else f"Schema registry {instance}"
        super().__init__(settings, ports, state_dir)

    @property
    def listen_port(self) -> int:
        if self.instance == 1:
            return self.ports.registry
        recorded = self.home / PORT_FILE
        if recorded.is_file():
            port = int(recorded.read_text().strip())
            if self.process.pid() is not None or not port_in_use(port):
                return port
        port = free_ports(1)[0]
        recorded.parent.mkdir(parents=True, exist_ok=True)
        recorded.write_text(f"{port}\n")
        return port

    @property
    def log_file(self) -> Path:
        return self.console_log

    @property
    def port_roles(self) -> dict[str, int]:
        return {"schema registry": self.listen_port}

    @property
    def endpoint(self) -> str:
        scheme = "http" if self.security is None else "https"
        return f"{scheme}://{BIND_HOST}:{self.listen_port}"

    def require_installed(self) -> None:
        """Nothing to install: it is part of this package."""

    def prepare(self) -> None:
        self.logs_dir.mkdir(parents=True, exist_ok=True)

    def launch(self) -> Launch:
        argv = registry_command(self.listen_port)
        if self.security is not None:
            certs = self.security.certs
            argv += [
                "--tls-cert",
                str(certs.cert("registry")),
                "--tls-key",
                str(certs.key("registry")),
            ]
        return Launch(
            argv=argv,
            env=child_env(self._env()),
            cwd=self.home,
            console_log=self.console_log,
            marker=" ".join(argv[3:]),
        )

    def probe(self, timeout_s: float) -> bool:
        if self.security is None:
            return probe_registry(self.endpoint, timeout_s)
        admin = self.security.client_registry(self.settings.registry, "admin")
        secret = admin.login_password()
        password = secret.get_secret_value() if secret else ""
        auth = ("admin", password)
        return probe_registry(self.endpoint, timeout_s, str(self.security.certs.ca), auth)

    def _env(self) -> dict[str, str]:
        """On the secure stack, the registry's own principal: it reads its password from the
        secrets file the variables name, so none is in its environment."""
        if self.security is None:
            return registry_env(self.settings)
        kafka = self.security.client_kafka(self.settings.kafka, "registry")
        registry = self.security.registry_server(self.settings.registry)
        env = registry_env(self.settings.model_copy(update={"kafka": kafka, "registry": registry}))
        env.pop("SENTINEL_KAFKA_SASL_PASSWORD", None)  # none is set: the file holds it
        return env
