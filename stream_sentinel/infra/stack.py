"""The local stack as one object: ``Stack(settings).up()``, ``.down()``, ``.status()``.

The CLI (`stream-sentinel infra ...`) and the integration-test session both drive this class, so
tests run against exactly what users start. Kafka and Redis are launched first and awaited together
(Redis does not need Kafka; overlapping their start-up saves seconds); the schema registry keeps
its state in Kafka, so it starts only once Kafka answers.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stream_sentinel.config import Settings
from stream_sentinel.errors import ConfigError, InfraError
from stream_sentinel.infra.acls import SERVICES
from stream_sentinel.infra.endpoints import BIND_HOST, PORT_VARIABLES, stack_ports
from stream_sentinel.infra.kafka import KafkaService, new_cluster_id, require_java
from stream_sentinel.infra.kafka_cluster import (
    LAYOUT_FILE,
    ClusterLayout,
    current_layout,
    load_layout,
    plan_layout,
    recorded_cluster_id,
    require_supported,
    write_layout,
)
from stream_sentinel.infra.maven import install_jars
from stream_sentinel.infra.process import (
    ManagedProcess,
    accepts_connections,
    free_ports,
    has_exited,
    port_holder,
    port_in_use,
)
from stream_sentinel.infra.redis import RedisService
from stream_sentinel.infra.registry import RegistryService, started_instances
from stream_sentinel.infra.secure import SECURITY_DIR, StackSecurity
from stream_sentinel.infra.service import LocalService

Progress = Callable[[str], None]
_PROBE_TIMEOUT_S = 1.0
_STATUS_PROBE_TIMEOUT_S = 2.0
_RETRY_S = 0.2


def _quiet(_: str) -> None:
    """Default progress sink: say nothing."""


@dataclass(frozen=True, slots=True)
class ServiceReport:
    """One service after an `up`, `down` or `status`: what happened and where to find it."""

    service: str  # "kafka", "redis", "registry"
    title: str
    state: str  # started | already running | stopped | not running | running | foreign
    pid: int | None
    ports: dict[str, int]
    endpoint: str
    healthy: bool
    log: Path
    node_id: int | None = None  # a Kafka node's id

    @property
    def port(self) -> int:
        return next(iter(self.ports.values()))

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready view (for `infra status --json`)."""
        return {
            "service": self.service,
            "state": self.state,
            "pid": self.pid,
            "port": self.port,
            "ports": self.ports,
            "endpoint": self.endpoint,
            "healthy": self.healthy,
            "log": str(self.log),
            "node_id": self.node_id,
        }


@dataclass(frozen=True, slots=True)
class DownResult:
    """What `down` stopped and, with ``purge``, which directories it deleted."""

    services: list[ServiceReport]
    purged: list[Path] = field(default_factory=list)
    strays: list[int] = field(default_factory=list)  # pids of nodes the layout did not name


class Stack:
    """Kafka (KRaft), Redis and the schema registry as local processes on 127.0.0.1."""

    def __init__(self, settings: Settings, secure: bool = False) -> None:
        """``secure``: create the stack secured (`infra up --secure`); a stack created so
        stays secure, so later commands need no flag."""
        self.settings = settings
        self.state_dir = settings.infra.state_dir.expanduser().resolve()
        self.security = StackSecurity.of(self.state_dir, secure)
        self.ports = stack_ports(settings, secure=self.security is not None)
        self.layout_file = self.state_dir / "kafka" / LAYOUT_FILE
        self._recorded, self._layout_error = _read_layout(self.layout_file)
        self._recorded_size = _recorded_size(self.state_dir, self._recorded)
        count = max(settings.infra.registry_instances, started_instances(self.state_dir))
        self.redis = RedisService(settings, self.ports, self.state_dir, self.security)
        self.registries = [
            RegistryService(settings, self.ports, self.state_dir, n, self.security)
            for n in range(1, count + 1)
        ]
        self.registry = self.registries[0]
        self._use_layout(self._plan_kafka(current_layout))

    def _use_layout(self, layout: ClusterLayout) -> None:
        self.layout = layout
        self.kafka_nodes = [
            KafkaService(self.settings, self.ports, self.state_dir, layout, node, self.security)
            for node in layout.nodes
        ]
        self.kafka = self.kafka_nodes[0]
        self.services: tuple[LocalService, ...] = (*self.kafka_nodes, self.redis, *self.registries)

    def _plan_kafka(self, plan: Callable[..., ClusterLayout]) -> ClusterLayout:
        """The recorded cluster (its size wins, so `down`/`status` need no flag), or the one
        ``infra.brokers`` asks for. A single node formatted before layouts were recorded keeps
        the cluster id in its storage."""
        wanted = self.settings.infra.brokers
        if wanted is not None:
            require_supported(wanted)
        size = self._recorded_size or wanted or 1
        legacy = recorded_cluster_id(self.state_dir / "kafka" / "data" / "meta.properties")
        cluster_id = legacy or new_cluster_id()
        return plan(size, self.ports, cluster_id, self._recorded, free_ports)

    def _require_same_size(self) -> None:
        """A formatted cluster cannot change its quorum's voters: say how to start over."""
        wanted, have = self.settings.infra.brokers, self._recorded_size
        if wanted is not None and have is not None and wanted != have:
            raise ConfigError(
                f"the stack in {self.state_dir} was created with {have} Kafka node(s), not"
                f" {wanted}: run `stream-sentinel infra down --purge` first to start it anew"
                f" with --brokers {wanted} (this deletes its data), or leave out --brokers"
            )

    def install(self) -> bool:
        """Fetch the Kafka jars once (True when this call fetched them) and check Java."""
        installed = install_jars(self.kafka.jars, self.settings.infra.maven)
        require_java(self.settings.infra.java)
        return installed

    def require_installed(self) -> None:
        """Raise InfraError naming the install command for whatever is missing."""
        for service in self.services:
            service.require_installed()

    def up(self, with_registry: bool = True, progress: Progress = _quiet) -> list[ServiceReport]:
        """Start what is not running yet and wait until every service answers."""
        if self._layout_error is not None:
            raise self._layout_error
        self._require_same_size()
        if self.security is not None:
            formatted = (self.state_dir / "kafka" / "data" / "meta.properties").exists()
            size = self._recorded_size or self.settings.infra.brokers or 1
            self.security.require_startable(formatted, size, len(self.registries))
        planned = self._plan_kafka(plan_layout)  # raises if the quorum's ports moved
        if planned != self.layout:
            self._use_layout(planned)
        wanted = [s for s in self.services if with_registry or s not in self.registries]
        to_start = [s for s in wanted if s.process.pid() is None]
        for service in to_start:
            service.require_installed()
        _require_free_ports(to_start)
        if any(s in self.kafka_nodes for s in to_start):
            write_layout(self.layout_file, self.layout)
        started: dict[str, int] = {}
        for phase in self._phases(wanted):
            for service in phase:
                if service in to_start:
                    started[service.name] = self._start(service, progress)
            for service in phase:
                self._await_healthy(service, started.get(service.name), progress)
            if self.kafka in phase and self.security is not None:
                self._grant_acls(progress)
        return [
            self._report(s, "started" if s.name in started else "already running") for s in wanted
        ]

    def _grant_acls(self, progress: Progress) -> None:
        """Each service principal's ACLs, as the admin (creating an existing one is a no-op)."""
        from stream_sentinel.clients.kafka_acls import create_acls
        from stream_sentinel.infra.acls import every_grant

        timeout = self.settings.infra.start_timeout_s
        count = create_acls(self.kafka.client_settings, every_grant(self.settings), timeout)
        progress(f"Kafka ACLs in place: {count} grants for {len(SERVICES)} service principals")

    def _phases(self, wanted: list[LocalService]) -> list[list[LocalService]]:
        """Kafka and Redis start together; the registries store their state in Kafka, so they
        wait for it, and start together (one of them is elected leader)."""
        first: list[LocalService] = [s for s in (*self.kafka_nodes, self.redis) if s in wanted]
        registries: list[LocalService] = [s for s in self.registries if s in wanted]
        return [first, registries] if registries else [first]

    def down(self, purge: bool = False) -> DownResult:
        """Stop the processes this stack started (by pid); ``purge`` also deletes their data.

        The Kafka nodes stop together, last: one by one, the last two would wait for a quorum
        that is already gone."""
        timeout = self.settings.infra.stop_timeout_s
        others = [s for s in self.services if s not in self.kafka_nodes]
        pids = {s.name: s.process.stop(timeout) for s in reversed(others)}
        strays = [
            ManagedProcess(pid_file)
            for home in _stray_nodes(self.state_dir, self.kafka_nodes)
            for pid_file in sorted(home.glob("*.pid"))
        ]
        processes = [n.process for n in self.kafka_nodes] + strays
        with ThreadPoolExecutor(max_workers=len(processes)) as pool:
            stopped = list(pool.map(lambda process: process.stop(timeout), processes))
        pids |= dict(zip([n.name for n in self.kafka_nodes], stopped, strict=False))
        reports = [
            self._report(s, "stopped" if pids[s.name] else "not running", pids[s.name])
            for s in self.services
        ]
        stray_pids = [pid for pid in stopped[len(self.kafka_nodes) :] if pid is not None]
        purged = self._purge() if purge else []
        return DownResult(reports, purged, stray_pids)

    def status(self) -> list[ServiceReport]:
        """Each service's pid (if ours and alive), ports and whether it answers."""
        if self._layout_error is not None:
            raise self._layout_error
        return [self._status(service) for service in self.services]

    def _start(self, service: LocalService, progress: Progress) -> int:
        progress(f"starting {service.title} on {service.endpoint} ...")
        service.prepare()
        return service.process.start(service.launch())

    def _await_healthy(self, service: LocalService, pid: int | None, progress: Progress) -> None:
        """Poll the health check until it passes, the process dies, or the start timeout."""
        deadline = time.monotonic() + self.settings.infra.start_timeout_s
        while not (accepts_connections(service.port) and service.probe(_PROBE_TIMEOUT_S)):
            failure = self._start_problem(pid, deadline)
            if failure is not None:
                if pid is not None:  # a hung start is ours to end; an exited one leaves a pid file
                    service.process.stop(self.settings.infra.stop_timeout_s)
                raise _start_failure(service, failure)
            time.sleep(_RETRY_S)
        if pid is not None:
            progress(f"{service.title} is healthy")

    def _start_problem(self, pid: int | None, deadline: float) -> str | None:
        """Why waiting is pointless (the process died, or time is up), or None to keep waiting."""
        if pid is not None and has_exited(pid):
            return "exited during start-up"
        if time.monotonic() > deadline:
            timeout = self.settings.infra.start_timeout_s
            return f"did not answer within {timeout:g} s (SENTINEL_INFRA_START_TIMEOUT_S)"
        return None

    def _status(self, service: LocalService) -> ServiceReport:
        pid = service.process.pid()
        listening = port_in_use(service.port)
        healthy = listening and service.probe(_STATUS_PROBE_TIMEOUT_S)
        state = "running" if pid else ("foreign" if listening else "stopped")
        return self._report(service, state, pid, healthy)

    def _report(
        self, service: LocalService, state: str, pid: int | None = None, healthy: bool = True
    ) -> ServiceReport:
        if pid is None and state in ("started", "already running"):
            pid = service.process.pid()
        if state in ("stopped", "not running"):
            healthy = False
        return ServiceReport(
            service=service.name,
            title=service.title,
            state=state,
            pid=pid,
            ports=service.port_roles,
            endpoint=service.endpoint,
            healthy=healthy,
            log=service.log_file,
            node_id=service.node.node_id if isinstance(service, KafkaService) else None,
        )

    def _purge(self) -> list[Path]:
        """Delete each service's directory (data, logs, config) once nothing of ours runs."""
        still_running = [s.title for s in self.services if s.process.pid() is not None]
        if still_running:
            raise InfraError(f"not purging: {', '.join(still_running)} still running")
        strays = _stray_nodes(self.state_dir, self.kafka_nodes)
        still_running = [str(p) for home in strays for p in home.glob("*.pid") if _alive(p)]
        if still_running:
            raise InfraError(f"not purging: processes in {', '.join(still_running)} still run")
        purged = [s.home for s in self.services if s.home.exists()] + strays
        if (self.state_dir / SECURITY_DIR).exists():
            purged.append(self.state_dir / SECURITY_DIR)
        for home in purged:
            shutil.rmtree(home)
        if self.state_dir.is_dir() and not any(self.state_dir.iterdir()):
            self.state_dir.rmdir()
        return purged


def _require_free_ports(services: Sequence[LocalService]) -> None:
    """Refuse to start when another program holds a port, before anything is started."""
    for service in services:
        for role, port in service.port_roles.items():
            if port_in_use(port):
                raise InfraError(_port_taken_message(role, port))


def _port_taken_message(role: str, port: int) -> str:
    holder = port_holder(port)
    by = f" by {holder}" if holder else ""
    variable = PORT_VARIABLES.get(role)
    move = (
        f"move this port with {variable.format(port='<free port>')}"
        if variable
        else "run `stream-sentinel infra down --purge` to choose new ports for the other Kafka"
        " nodes (this deletes the data)"
    )
    return (
        f"port {port} ({role}) on {BIND_HOST} is already in use{by}, and not by a process this"
        f" stack started. Stop that program (if it is a stack started from another directory,"
        f" run `stream-sentinel infra down` there), or {move}"
    )


def _read_layout(layout_file: Path) -> tuple[ClusterLayout | None, ConfigError | None]:
    """The recorded layout, or the error saying why it cannot be read (kept for `up` and
    `status` to raise; `down` still stops and purges every node it finds)."""
    try:
        return load_layout(layout_file), None
    except ConfigError as exc:
        return None, exc


def _stray_nodes(state_dir: Path, known: Sequence[KafkaService]) -> list[Path]:
    """``kafka-N`` directories of nodes the layout does not name (an unreadable or lost
    cluster.json): `down` stops their processes by pid file and `--purge` deletes them."""
    names = {node.name for node in known}
    if not state_dir.is_dir():
        return []
    return sorted(
        path
        for path in state_dir.glob("kafka-*")
        if path.is_dir() and path.name.removeprefix("kafka-").isdigit() and path.name not in names
    )


def _recorded_size(state_dir: Path, recorded: ClusterLayout | None) -> int | None:
    """How many Kafka nodes the stack in ``state_dir`` was created with (None: not yet).

    A stack formatted before clusters existed has storage but no layout file: one node."""
    if recorded is not None:
        return recorded.size
    return 1 if (state_dir / "kafka" / "data" / "meta.properties").exists() else None


def _alive(pid_file: Path) -> bool:
    return ManagedProcess(pid_file).pid() is not None


def _start_failure(service: LocalService, what: str) -> InfraError:
    return InfraError(
        f"{service.title} {what}; its logs are in {service.logs_dir}.\n{service.log_tail()}"
    )
