"""What the stack needs to know about each local service (Kafka, Redis, the schema registry).

Each service describes its ports, files and launch command; ``Stack`` (in ``stack.py``) does the
ordering, waiting and reporting once for all of them.
"""

from __future__ import annotations

import os
import shutil
import sys
from abc import ABC, abstractmethod
from pathlib import Path

from stream_sentinel.config import Settings
from stream_sentinel.errors import InfraError
from stream_sentinel.infra.endpoints import StackPorts
from stream_sentinel.infra.process import Launch, ManagedProcess, tail


class LocalService(ABC):
    """One process of the local stack, with its own directory under the state dir."""

    name: str  # directory and JSON name: "kafka"
    title: str  # for people: "Kafka"

    def __init__(self, settings: Settings, ports: StackPorts, state_dir: Path) -> None:
        self.settings = settings
        self.ports = ports
        self.home = state_dir / self.name
        self.process = ManagedProcess(self.home / f"{self.name}.pid")

    @property
    def logs_dir(self) -> Path:
        return self.home / "logs"

    @property
    def console_log(self) -> Path:
        """The process's stdout and stderr: where a crash before logging starts shows up."""
        return self.logs_dir / "console.log"

    @property
    @abstractmethod
    def log_file(self) -> Path:
        """The service's own log, the one to read first."""

    @property
    @abstractmethod
    def port_roles(self) -> dict[str, int]:
        """Every port the service binds, by role (keys of ``endpoints.PORT_VARIABLES``)."""

    @property
    def port(self) -> int:
        """The port clients use."""
        return next(iter(self.port_roles.values()))

    @property
    @abstractmethod
    def endpoint(self) -> str:
        """Where clients reach it, as they would write it in settings."""

    @abstractmethod
    def require_installed(self) -> None:
        """Raise InfraError naming the install command when a program or file is missing."""

    @abstractmethod
    def prepare(self) -> None:
        """Write configuration (and format storage) before a start."""

    @abstractmethod
    def launch(self) -> Launch:
        """The command line, environment and log of the process."""

    @abstractmethod
    def probe(self, timeout_s: float) -> bool:
        """True when the service answers its health request."""

    def log_tail(self, lines: int = 20) -> str:
        """The end of the service's logs, for error messages."""
        parts = []
        for path in dict.fromkeys((self.log_file, self.console_log)):
            text = tail(path, lines)
            if text.strip():
                parts.append(f"--- last lines of {path} ---\n{text}")
        return "\n".join(parts) or f"(no log output in {self.logs_dir})"


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """A minimal environment for a service: it is configured by files and flags, not by the
    caller's shell, so the same settings always start the same service."""
    path = os.pathsep.join([str(Path(sys.executable).parent), os.defpath])
    return {"PATH": path, "LC_ALL": "C.UTF-8", **(extra or {})}


def find_program(program: str, how_to_install: str) -> str:
    """The absolute path of ``program``, or an InfraError saying how to install it."""
    found = shutil.which(program)
    if found is None:
        raise InfraError(f"`{program}` was not found on PATH: {how_to_install}")
    return found
