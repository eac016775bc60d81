"""The KRaft controller quorum as Kafka's own tool reports it: leader, voters and their lag.

librdkafka has no client for the quorum-describe request, so `stream-sentinel check` runs
Kafka's ``kafka-metadata-quorum describe --replication`` from the cached jars (the same JVM
and classpath the local brokers use) and reads its table.
"""

from __future__ import annotations

import subprocess
import tempfile
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
#: Seconds the JVM may take to start, on top of the tool's own request timeout.
JVM_START_S = 20.0


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
    behind = [m for m in followers if _behind(m, now_ms)]
    parts = [
        f"{m.node_id}"
        + (" (leader)" if m is leader else f" lag {m.lag}")
        + (_how_far_behind(m, now_ms) if m in behind else "")
        for m in voters
    ]
    text = f"leader {leader.node_id}; voters " + ", ".join(parts)
    if behind:
        held = len(voters) - len(behind)
        raise AssertionError(f"{text}; {held} of {len(voters)} voters caught up")
    return text


def _behind(member: QuorumMember, now_ms: int) -> bool:
    """-1 is the tool's "never": the voter has not caught up since the leader was elected."""
    return member.last_caught_up_ms < 0 or now_ms - member.last_caught_up_ms > BEHIND_AFTER_MS


def _how_far_behind(member: QuorumMember, now_ms: int) -> str:
    if member.last_caught_up_ms < 0:
        return ", not caught up since election"
    return f", behind for {(now_ms - member.last_caught_up_ms) / 1000:.0f} s"


def tool_failure(stderr: str) -> str:
    """The line of the tool's stderr that says why: the one naming an exception, else the
    last (the first is often a warning about logging)."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    return next(
        (line for line in lines if "Exception" in line), lines[-1] if lines else "no output"
    )


def tool_ready(settings: Settings) -> bool:
    """True when Java and the Kafka jars (with the tools) are installed here."""
    try:
        find_program(settings.infra.java, INSTALL_JAVA)
    except InfraError:
        return False
    return KafkaJars(settings.infra.cache_dir, settings.infra.kafka_version).installed()


def describe_quorum(settings: Settings, timeout_s: float) -> list[QuorumMember]:
    """Ask the cluster at ``settings.kafka.bootstrap`` for its quorum (a short-lived JVM).

    Only for PLAINTEXT clusters: the tool gets no security settings. Its own requests time
    out after ``timeout_s``, so a broker that does not answer gives the tool's message."""
    jars = KafkaJars(settings.infra.cache_dir, settings.infra.kafka_version)
    jars.require_installed()
    java = find_program(settings.infra.java, INSTALL_JAVA)
    timeout_ms = str(max(1, int(timeout_s * 1000)))
    with tempfile.NamedTemporaryFile("w", suffix=".properties", prefix="quorum-") as config:
        config.write(f"request.timeout.ms={timeout_ms}\ndefault.api.timeout.ms={timeout_ms}\n")
        config.flush()
        command = [
            java,
            f"-Xmx{TOOL_HEAP}",
            "-Dlog4j2.level=OFF",
            "-cp",
            jars.classpath,
            TOOL_CLASS,
            "--bootstrap-server",
            settings.kafka.bootstrap,
            "--command-config",
            config.name,
            "describe",
            "--replication",
        ]
        wait_s = timeout_s + JVM_START_S
        try:
            result = subprocess.run(
                command, env=child_env(), capture_output=True, text=True, timeout=wait_s
            )
        except subprocess.TimeoutExpired:
            raise InfraError(f"the quorum tool did not answer within {wait_s:g} s") from None
    members = parse_replication(result.stdout)
    if result.returncode != 0 or not members:
        detail = tool_failure(result.stderr)
        raise InfraError(f"the quorum tool failed (exit {result.returncode}): {detail}")
    return members
