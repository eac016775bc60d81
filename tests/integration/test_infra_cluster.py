"""`infra up --brokers 3`: a three-node KRaft cluster that replicates, and survives one node.

The module runs its own cluster (three Kafka JVMs with the per-node heap, Redis and the
registry) on free ports in a tmp dir, started and stopped through the CLI as a user would,
and never touches the session stack. The tests run in order: the last ones stop a node.
"""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from stream_sentinel.config import Settings
from stream_sentinel.infra.stack import Stack
from stream_sentinel.transport.base import TopicInfo, TopicPartition
from stream_sentinel.transport.kafka import KafkaBroker
from stream_sentinel.transport.topics import LAYOUT, Topics
from tests.integration.stacks import cli_env, isolated_settings, require_installed

CLI = str(Path(sys.executable).with_name("stream-sentinel"))
WAIT_S = 60.0  # bound on waiting for the cluster to notice a node is gone
RECORDS = 60


def run_cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CLI, *args], env=cli_env(settings), capture_output=True, text=True, timeout=180
    )


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A 3-node cluster started by `infra up --brokers 3`; `down` on the way out, whatever."""
    settings = isolated_settings(tmp_path_factory.mktemp("cluster-stack"))
    require_installed(Stack(settings))
    try:
        started = run_cli(settings, "infra", "up", "--brokers", "3")
        assert started.returncode == 0, started.stdout + started.stderr
        yield Stack(settings)  # no --brokers: the size comes from the stack's own state
    finally:
        gc.collect()  # clients left for the collector go while a broker still answers them
        Stack(settings).down()


def describe(settings: Settings, names: list[str]) -> dict[str, TopicInfo]:
    return KafkaBroker(settings.kafka).admin().describe_topics(names)


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def read_committed(settings: Settings, topic: str, expected: int) -> list[bytes]:
    """Every committed value of ``topic``, read until ``expected`` arrived (bounded)."""
    consumer = KafkaBroker(settings.kafka).consumer(None, isolation="read_committed")
    consumer.assign({TopicPartition(topic, p): 0 for p in range(LAYOUT["transactions"][0])})
    values: list[bytes] = []
    try:
        for _ in range(120):
            values += [r.value() or b"" for r in consumer.consume(500, 0.5)]
            if len(values) >= expected:
                break
    finally:
        consumer.close()
    return values


def test_up_runs_three_nodes_that_status_lists_with_ports_and_pids(cluster: Stack) -> None:
    assert [node.name for node in cluster.kafka_nodes] == ["kafka", "kafka-2", "kafka-3"]
    result = run_cli(cluster.settings, "infra", "status", "--json")
    assert result.returncode == 0, result.stderr
    services = json.loads(result.stdout)["services"]
    kafka = [s for s in services if s["node_id"] is not None]
    assert [(s["service"], s["node_id"], s["state"], s["healthy"]) for s in kafka] == [
        ("kafka", 1, "running", True),
        ("kafka-2", 2, "running", True),
        ("kafka-3", 3, "running", True),
    ]
    assert kafka[0]["port"] == cluster.ports.kafka  # the configured bootstrap still works
    assert [s["pid"] for s in kafka] == [n.process.pid() for n in cluster.kafka_nodes]
    assert len({port for s in kafka for port in s["ports"].values()}) == 6
    assert [s["service"] for s in services[3:]] == ["redis", "registry"]
    voters = ",".join(
        f"{n.node.node_id}@127.0.0.1:{n.node.controller_port}" for n in cluster.kafka_nodes
    )
    for node in cluster.kafka_nodes:
        assert f"controller.quorum.voters={voters}\n" in node.config_file.read_text()
        assert (node.data_dir / "meta.properties").is_file()
        assert node.log_file.is_file()


def test_topics_create_replicates_three_times_with_two_in_sync(cluster: Stack) -> None:
    settings = cluster.settings
    created = run_cli(settings, "topics", "create")
    assert created.returncode == 0, created.stderr
    assert created.stdout.splitlines()[0] == "3 broker(s): replication factor 3"
    names = [spec.name for spec in Topics().specs()]
    found = describe(settings, names)
    assert sorted(found) == sorted(names)
    assert {(i.replication_factor, i.config["min.insync.replicas"]) for i in found.values()} == {
        (3, "2")
    }
    assert all(i.in_sync == (3,) * i.partitions for i in found.values())
    listed = run_cli(settings, "topics", "list")
    assert listed.returncode == 0, listed.stdout


def test_a_transaction_commits_through_the_cluster_and_reads_back(cluster: Stack) -> None:
    settings = cluster.settings
    topic = Topics().transactions
    producer = KafkaBroker(settings.kafka).producer(transactional_id="cluster-test")
    producer.init_transactions()
    producer.begin_transaction()
    for n in range(RECORDS):
        producer.produce(topic, f"txn-{n}".encode(), f"user-{n}".encode())
    producer.commit_transaction()
    producer.close()
    values = read_committed(settings, topic, RECORDS)
    assert sorted(values) == sorted(f"txn-{n}".encode() for n in range(RECORDS))
    internal = describe(settings, ["__transaction_state", "__consumer_offsets"])
    state_log = internal["__transaction_state"]
    assert (state_log.replication_factor, state_log.config["min.insync.replicas"]) == (3, "2")
    assert internal["__consumer_offsets"].replication_factor == 3


def test_check_reports_the_quorum_and_full_replication(cluster: Stack) -> None:
    result = run_cli(cluster.settings, "check")
    assert result.returncode == 0, result.stdout
    lines = result.stdout.splitlines()
    quorum = next(line for line in lines if "kafka: controller quorum" in line)
    assert quorum.startswith("PASS"), quorum
    assert "not checked" not in quorum, quorum  # it ran the tool, it did not skip it
    assert "leader " in quorum and "voters" in quorum, quorum
    assert all(f"{n}" in quorum.partition("voters")[2] for n in (1, 2, 3)), quorum
    isr = next(line for line in lines if "kafka: replication (ISR)" in line)
    assert "fully in sync (replication factor 3, min.insync.replicas 2)" in isr, isr


def test_with_a_node_stopped_topics_list_flags_it_and_acks_all_still_lands(
    cluster: Stack,
) -> None:
    settings = cluster.settings
    third = cluster.kafka_nodes[2]
    stopped = third.process.stop(settings.infra.stop_timeout_s)
    assert stopped is not None and not alive(stopped)
    topic = Topics().transactions
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline and not describe(settings, [topic])[topic].under_replicated:
        time.sleep(0.5)
    listed = run_cli(settings, "topics", "list")
    assert listed.returncode == 1
    flagged = [line for line in listed.stdout.splitlines() if line.startswith("under-replicated:")]
    assert any(line.startswith(f"under-replicated: {topic} partitions [") for line in flagged)
    assert all("of 3, min.insync.replicas 2: writes still accepted" in line for line in flagged)

    refused = run_cli(settings, "topics", "create")
    assert refused.returncode == 1
    assert (
        "only 2 of the cluster's 3 brokers answer: topics created now would get 2 replica(s)"
        " instead of 3, and keep them." in refused.stderr + refused.stdout
    )

    producer = KafkaBroker(settings.kafka).producer()  # acks=all, as every producer
    for n in range(RECORDS):
        producer.produce(topic, f"two-of-three-{n}".encode(), f"user-{n}".encode())
    assert producer.flush(30.0) == 0
    assert producer.delivery_failures() == 0
    producer.close()
    values = read_committed(settings, topic, 2 * RECORDS)
    assert sum(v.startswith(b"two-of-three-") for v in values) == RECORDS

    checked = run_cli(settings, "check")
    assert checked.returncode == 1
    assert any(
        line.startswith("FAIL  kafka: replication (ISR)") and "under-replicated" in line
        for line in checked.stdout.splitlines()
    ), checked.stdout


def test_down_stops_every_node_it_started(cluster: Stack) -> None:
    """Runs last: the cluster is stopped."""
    pids = [s.process.pid() for s in cluster.services]
    assert pids[2] is None  # the node stopped above
    down = run_cli(cluster.settings, "infra", "down")
    assert down.returncode == 0, down.stderr
    assert [line.split()[-3:] for line in down.stdout.splitlines()[:3]] == [
        ["stopped", "(pid", f"{pids[0]})"],
        ["stopped", "(pid", f"{pids[1]})"],
        ["3", "not", "running"],
    ]
    assert [pid for pid in pids if pid is not None and alive(pid)] == []
    assert [r.state for r in cluster.status()] == ["stopped"] * 5
