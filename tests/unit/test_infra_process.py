"""Pid files, ownership checks and port probes (this tier starts no process: it uses its own)."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import psutil

from stream_sentinel.infra.process import (
    ManagedProcess,
    PidRecord,
    find_ours,
    port_in_use,
    read_pid_file,
    tail,
    write_pid_file,
)


def this_process(marker: str) -> PidRecord:
    return PidRecord(os.getpid(), psutil.Process().create_time(), marker)


def test_pid_files_round_trip_and_garbage_reads_as_none(tmp_path: Path) -> None:
    record = PidRecord(4242, 1234.5, "/state/kafka/server.properties")
    write_pid_file(tmp_path / "kafka.pid", record)
    assert read_pid_file(tmp_path / "kafka.pid") == record
    (tmp_path / "bad.pid").write_text("not json")
    assert read_pid_file(tmp_path / "bad.pid") is None
    assert read_pid_file(tmp_path / "missing.pid") is None


def test_a_process_is_ours_only_if_pid_start_time_and_command_line_all_match() -> None:
    marker = psutil.Process().cmdline()[0]  # the interpreter: in the command line however run
    assert find_ours(this_process(marker)) is not None
    recycled = PidRecord(os.getpid(), psutil.Process().create_time() - 60, marker)
    assert find_ours(recycled) is None
    assert find_ours(this_process("/some/other/server.properties")) is None
    assert find_ours(PidRecord(2**22 + 1, 0.0, marker)) is None


def test_a_stale_pid_file_is_removed_and_reads_as_not_running(tmp_path: Path) -> None:
    pid_file = tmp_path / "redis.pid"
    write_pid_file(pid_file, this_process("/state/redis/redis.conf"))
    managed = ManagedProcess(pid_file)
    assert managed.pid() is None
    assert not pid_file.exists()


def test_stop_leaves_a_process_that_is_not_ours_alone(tmp_path: Path) -> None:
    pid_file = tmp_path / "registry.pid"
    write_pid_file(pid_file, this_process("schema-registry --host 127.0.0.1 --port 1"))
    assert ManagedProcess(pid_file).stop(timeout_s=1.0) is None
    assert not pid_file.exists()  # and this test is still running to say so


def test_a_listening_port_is_in_use_and_a_closed_one_is_free() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        assert port_in_use(port) is True
    assert port_in_use(port) is False


def test_tail_returns_the_last_lines(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    log.write_text("".join(f"line {n}\n" for n in range(100)))
    assert tail(log, 3) == "line 97\nline 98\nline 99"
    assert tail(tmp_path / "missing.log") == ""
