"""The KRaft controller quorum as Kafka's own tool reports it: leader, voters and their lag.

librdkafka has no client for the quorum-describe request, so `stream-sentinel check` runs
Kafka's ``kafka-metadata-quorum describe --replication`` from the cached jars (the same JVM
and classpath the local brokers use) and reads its table.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from dataclasses import dataclass

from stream_sentinel.config import Settings
from stream_sentinel.errors import InfraError
from stream_sentinel.infra.kafka import INSTALL_JAVA
from stream_sentinel.infra.maven import KafkaJars
from stream_sentinel.infra.service import child_env, find_program

TOOL_CLASS = "org.apache.kafka.tools.MetadataQuorumCommand"
TOOL_HEAP = "256m"
#: A voter whose log has not caught up with the leader's for this long is down or stuck.
BEHIND_AFTER_MS = 10_000


@dataclass(frozen=True, slots=True)
class QuorumMember:
    """One row of the tool's replication table."""

    node_id: int
    log_end_offset: int
    lag: int
    last_caught_up_ms: int
    status: str  # Leader | Follower | Observer


def parse_replication(table: str) -> list[QuorumMember]:
    """The rows of ``describe --replication`` output (tab-separated, with a header line)."""
    members = []
    for line in table.splitlines()[1:]:
        cells = [cell.strip() for cell in line.split("\t")]
        if len(cells) < 7 or not cells[0].isdigit():
            continue
        members.append(
            QuorumMember(int(cells[0]), int(cells[2]), int(cells[3]), int(cells[5]), cells[6])
        )
    return members


def quorum_summary(members: Sequence[QuorumMember], now_ms: int) -> str:
    """One line for `check`: the leader, each voter's lag. Raises AssertionError when the
    quorum has no leader or a voter has fallen behind (down, or unable to keep up)."""
    voters = [m for m in members if m.status in ("Leader", "Follower")]
    leader = next((m for m in voters if m.status == "Leader"), None)
    if leader is None:
        raise AssertionError(f"no controller leader among voters {[m.node_id for m in voters]}")
    followers = [m for m in voters if m is not leader]
    behind = [m for m in followers if now_ms - m.last_caught_up_ms > BEHIND_AFTER_MS]
    parts = [
        f"{m.node_id}"
        + (" (leader)" if m is leader else f" lag {m.lag}")
        + (f", behind for {(now_ms - m.last_caught_up_ms) / 1000:.0f} s" if m in behind else "")
        for m in voters
    ]
    text = f"leader {leader.node_id}; voters " + ", ".join(parts)
    if behind:
        held = len(voters) - len(behind)
        raise AssertionError(f"{text}; {held} of {len(voters)} voters caught up")
    return text


def tool_ready(settings: Settings) -> bool:
    """True when Java and the Kafka jars (with the tools) are installed here."""
    try:
        find_program(settings.infra.java, INSTALL_JAVA)
    except InfraError:
        return False
    return KafkaJars(settings.infra.cache_dir, settings.infra.kafka_version).installed()


def describe_quorum(settings: Settings, timeout_s: float) -> list[QuorumMember]:
    """Ask the cluster at ``settings.kafka.bootstrap`` for its quorum (a short-lived JVM)."""
    jars = KafkaJars(settings.infra.cache_dir, settings.infra.kafka_version)
    jars.require_installed()
    java = find_program(settings.infra.java, INSTALL_JAVA)
    command = [
        java,
        f"-Xmx{TOOL_HEAP}",
        "-Dlog4j2.level=OFF",
        "-cp",
        jars.classpath,
        TOOL_CLASS,
        "--bootstrap-server",
        settings.kafka.bootstrap,
        "describe",
        "--replication",
    ]
    try:
        result = subprocess.run(
            command, env=child_env(), capture_output=True, text=True, timeout=timeout_s
        )
    except subprocess.TimeoutExpired:
        raise InfraError(f"the quorum tool did not answer within {timeout_s:g} s") from None
    members = parse_replication(result.stdout)
    if result.returncode != 0 or not members:
        detail = (result.stderr.strip().splitlines() or ["no output"])[0]
        raise InfraError(f"the quorum tool failed (exit {result.returncode}): {detail}")
    return members
