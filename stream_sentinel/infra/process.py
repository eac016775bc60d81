"""Start, find and stop the processes of the local stack, and nothing else.

A pid file records each process we start: its pid, its start time and a marker its command line
must contain. A process counts as ours only while all three match, so a pid that the kernel has
recycled for someone else's program is never signalled.
"""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil

# Children started by this interpreter, kept so that stopping one also reaps it.
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}
_POLL_S = 0.05


@dataclass(frozen=True, slots=True)
class Launch:
    """Everything needed to start one service process."""

    argv: list[str]
    env: dict[str, str]
    cwd: Path
    console_log: Path
    marker: str  # appears in the process's command line; proves the pid is still ours


@dataclass(frozen=True, slots=True)
class PidRecord:
    """What a pid file holds."""

    pid: int
    create_time: float
    marker: str


class ManagedProcess:
    """One service process owned through its pid file."""

    def __init__(self, pid_file: Path) -> None:
        self.pid_file = pid_file

    def pid(self) -> int | None:
        """Our live process's pid, or None (a stale pid file is removed)."""
        record = read_pid_file(self.pid_file)
        if record is None:
            return None
        if find_ours(record) is None:
            self.pid_file.unlink(missing_ok=True)
            return None
        return record.pid

    def start(self, launch: Launch) -> int:
        """Start the process in its own session (a terminal's Ctrl-C must not reach it)."""
        launch.console_log.parent.mkdir(parents=True, exist_ok=True)
        with launch.console_log.open("ab") as console:
            child = subprocess.Popen(
                launch.argv,
                cwd=launch.cwd,
                env=launch.env,
                stdin=subprocess.DEVNULL,
                stdout=console,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        _CHILDREN[child.pid] = child
        record = PidRecord(child.pid, psutil.Process(child.pid).create_time(), launch.marker)
        write_pid_file(self.pid_file, record)
        return child.pid

    def stop(self, timeout_s: float) -> int | None:
        """SIGTERM our process, SIGKILL it after ``timeout_s``; returns the pid it stopped."""
        record = read_pid_file(self.pid_file)
        process = None if record is None else find_ours(record)
        if record is not None and process is not None:
            _terminate(process, timeout_s)
        self.pid_file.unlink(missing_ok=True)
        return None if process is None or record is None else record.pid


def read_pid_file(path: Path) -> PidRecord | None:
    """The record in ``path``, or None when it is missing or unreadable."""
    try:
        return PidRecord(**json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        return None


def write_pid_file(path: Path, record: PidRecord) -> None:
    """Write atomically, so a reader never sees half a record."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".tmp")
    partial.write_text(json.dumps(asdict(record)))
    partial.replace(path)


def find_ours(record: PidRecord) -> psutil.Process | None:
    """The live process ``record`` describes, or None if it is gone or the pid was recycled."""
    try:
        process = psutil.Process(record.pid)
        if abs(process.create_time() - record.create_time) > 0.5:
            return None
        if record.marker not in " ".join(process.cmdline()):
            return None
        return None if process.status() == psutil.STATUS_ZOMBIE else process
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return None


def has_exited(pid: int) -> bool:
    """True once a process started by this interpreter has exited (reaping it)."""
    child = _CHILDREN.get(pid)
    if child is not None:
        return child.poll() is not None
    return not psutil.pid_exists(pid)


def _terminate(process: psutil.Process, timeout_s: float) -> None:
    with contextlib.suppress(psutil.NoSuchProcess):
        process.terminate()
    if not _wait_gone(process, timeout_s):
        with contextlib.suppress(psutil.NoSuchProcess):
            process.kill()
        _wait_gone(process, timeout_s)


def _wait_gone(process: psutil.Process, timeout_s: float) -> bool:
    """Wait until the process is gone or a zombie (its parent may be a non-reaping init)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        child = _CHILDREN.get(process.pid)
        if child is not None and child.poll() is not None:
            del _CHILDREN[process.pid]
            return True
        if child is None and not _alive(process):
            return True
        time.sleep(_POLL_S)
    return False


def _alive(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return False


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """``count`` distinct ports that were free a moment ago (held together so none repeats)."""
    with contextlib.ExitStack() as held:
        sockets = [held.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind((host, 0))
        return [sock.getsockname()[1] for sock in sockets]


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    """True when something already listens on ``host:port`` (binding would fail)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # SO_REUSEADDR: a port in TIME_WAIT after our own service stopped is free, not taken.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return True
    return False


def accepts_connections(port: int, host: str = "127.0.0.1") -> bool:
    """True when a TCP connect to ``host:port`` succeeds (cheap, and silent, unlike a client)."""
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def port_holder(port: int) -> str | None:
    """Best-effort 'pid N (name)' of the process listening on ``port``; None if not visible."""
    try:
        connections = psutil.net_connections(kind="tcp")
    except (psutil.AccessDenied, OSError):
        return None
    for connection in connections:
        if connection.status == psutil.CONN_LISTEN and connection.laddr.port == port:
            return _describe_pid(connection.pid)
    return None


def _describe_pid(pid: int | None) -> str | None:
    if pid is None:
        return None
    try:
        return f"pid {pid} ({psutil.Process(pid).name()})"
    except psutil.Error:
        return f"pid {pid}"


def tail(path: Path, lines: int = 20) -> str:
    """The last ``lines`` lines of a log file ('' when it does not exist)."""
    try:
        with path.open("rb") as log:
            log.seek(0, 2)
            log.seek(max(0, log.tell() - 64 * 1024))
            text = log.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])
