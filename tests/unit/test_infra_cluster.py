"""The 3-node cluster's generated configuration, layout and replication reports (no JVM here)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from stream_sentinel.cli import cli
from stream_sentinel.config import load_settings
from stream_sentinel.errors import ConfigError
from stream_sentinel.infra.endpoints import StackPorts
from stream_sentinel.infra.kafka import SINGLE_NODE_PROPERTIES
from stream_sentinel.infra.kafka_cluster import (
    ClusterLayout,
    KafkaNode,
    cluster_node_properties,
    load_layout,
    plan_layout,
    replication_properties,
    require_supported,
)
from stream_sentinel.infra.process import free_ports
from stream_sentinel.infra.quorum import QuorumMember, parse_replication, quorum_summary
from stream_sentinel.infra.stack import Stack
from stream_sentinel.ops.health import replication_problems
from stream_sentinel.transport.base import TopicInfo
from stream_sentinel.transport.topics import Topics, min_insync_for, replication_for

PORTS = StackPorts(kafka=19092, controller=19093, redis=16379, registry=18081)
LAYOUT = ClusterLayout(
    "c1uster-id-0000000000A",
    (KafkaNode(1, 19092, 19093), KafkaNode(2, 29092, 29093), KafkaNode(3, 39092, 39093)),
)
VOTERS = "1@127.0.0.1:19093,2@127.0.0.1:29093,3@127.0.0.1:39093"


def expected_node(node_id: int, client: int, controller: int) -> dict[str, str]:
    return {
        "process.roles": "broker,controller",
        "node.id": str(node_id),
        "controller.quorum.voters": VOTERS,
        "listeners": f"PLAINTEXT://127.0.0.1:{client},CONTROLLER://127.0.0.1:{controller}",
        "advertised.listeners": (
            f"PLAINTEXT://127.0.0.1:{client},CONTROLLER://127.0.0.1:{controller}"
        ),
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "log.dirs": f"/state/kafka-{node_id}/data",
        "num.partitions": "1",
        "default.replication.factor": "3",
        "min.insync.replicas": "2",
        "offsets.topic.replication.factor": "3",
        "transaction.state.log.replication.factor": "3",
        "transaction.state.log.min.isr": "2",
        "share.coordinator.state.topic.replication.factor": "3",
        "share.coordinator.state.topic.min.isr": "2",
        "group.initial.rebalance.delay.ms": "0",
        "auto.create.topics.enable": "false",
    }


@pytest.mark.parametrize(
    ("node_id", "client", "controller"), [(1, 19092, 19093), (2, 29092, 29093), (3, 39092, 39093)]
)
def test_each_of_three_nodes_gets_its_own_ids_ports_and_the_shared_quorum(
    node_id: int, client: int, controller: int
) -> None:
    node = LAYOUT.nodes[node_id - 1]
    data_dir = Path(f"/state/kafka-{node_id}/data")
    assert cluster_node_properties(LAYOUT, node, data_dir) == expected_node(
        node_id, client, controller
    )


def test_one_node_keeps_one_copy_of_everything() -> None:
    assert (
        replication_properties(1)
        | {
            "group.initial.rebalance.delay.ms": "0",
            "auto.create.topics.enable": "false",
        }
        == SINGLE_NODE_PROPERTIES
    )
    assert [replication_for(n) for n in (1, 2, 3, 5)] == [1, 2, 3, 3]
    assert [min_insync_for(r) for r in (1, 2, 3)] == [1, 1, 2]


def test_only_one_or_three_brokers_are_accepted() -> None:
    assert require_supported(3) == 3
    with pytest.raises(ConfigError) as refused:
        require_supported(2)
    assert str(refused.value) == (
        "--brokers 2 is not supported: the local stack runs 1 broker (the default) or a 3-node"
        " KRaft cluster (--brokers 3)"
    )


def test_infra_up_refuses_other_sizes_before_anything_starts(tmp_path: Path) -> None:
    state = tmp_path / "state"
    for size in ("2", "0", "5"):
        result = CliRunner().invoke(
            cli, ["infra", "up", "--brokers", size], env={"SENTINEL_INFRA_STATE_DIR": str(state)}
        )
        assert result.exit_code == 2
        assert (
            f"Invalid value for '--brokers': {size} is not supported: the local stack"
            " runs 1 broker (the default) or a 3-node KRaft cluster (--brokers 3)"
        ) in " ".join(result.output.replace("│", " ").split())
    assert not state.exists()


def test_a_new_layout_puts_node_one_on_the_configured_ports_and_others_on_free_ones() -> None:
    layout = plan_layout(3, PORTS, "cid", None, lambda n: list(range(40000, 40000 + n)))
    assert layout == ClusterLayout(
        "cid",
        (KafkaNode(1, 19092, 19093), KafkaNode(2, 40000, 40001), KafkaNode(3, 40002, 40003)),
    )
    assert layout.voters == "1@127.0.0.1:19093,2@127.0.0.1:40001,3@127.0.0.1:40003"
    assert [n.name for n in layout.nodes] == ["kafka", "kafka-2", "kafka-3"]


def test_a_recorded_layout_is_kept_and_its_quorum_port_cannot_move(tmp_path: Path) -> None:
    (tmp_path / "cluster.json").write_text(LAYOUT.to_json())
    recorded = load_layout(tmp_path / "cluster.json")
    assert recorded == LAYOUT
    moved_client = StackPorts(kafka=19999, controller=19093, redis=1, registry=2)
    kept = plan_layout(3, moved_client, "new-id", recorded, lambda n: [])
    assert kept.cluster_id == LAYOUT.cluster_id
    assert kept.nodes == (KafkaNode(1, 19999, 19093), *LAYOUT.nodes[1:])
    moved_controller = StackPorts(kafka=19092, controller=19500, redis=1, registry=2)
    with pytest.raises(ConfigError, match="set SENTINEL_INFRA_CONTROLLER_PORT=19093, or run"):
        plan_layout(3, moved_controller, "new-id", recorded, lambda n: [])


def _stack(tmp_path: Path, brokers: int | None = None) -> Stack:
    kafka, controller, redis, registry = free_ports(4)
    settings = load_settings(
        environ={
            "SENTINEL_KAFKA_BOOTSTRAP": f"127.0.0.1:{kafka}",
            "SENTINEL_INFRA_CONTROLLER_PORT": str(controller),
            "SENTINEL_REDIS_URL": f"redis://127.0.0.1:{redis}",
            "SENTINEL_REGISTRY_URL": f"http://127.0.0.1:{registry}",
            "SENTINEL_INFRA_STATE_DIR": str(tmp_path / "state"),
            **({"SENTINEL_INFRA_BROKERS": str(brokers)} if brokers else {}),
        }
    )
    return Stack(settings)


def test_the_recorded_size_needs_no_flag_and_a_different_one_is_refused(tmp_path: Path) -> None:
    stack = _stack(tmp_path, brokers=3)
    assert [s.title for s in stack.services[:3]] == ["Kafka node 1", "Kafka node 2", "Kafka node 3"]
    assert [s.heap for s in stack.kafka_nodes] == ["512m"] * 3
    stack.layout_file.parent.mkdir(parents=True)
    stack.layout_file.write_text(stack.layout.to_json())
    again = Stack(stack.settings.with_overrides(infra={"brokers": None}))
    assert again.layout == stack.layout
    status = again.status()
    assert [(r.service, r.node_id, r.state) for r in status] == [
        ("kafka", 1, "stopped"),
        ("kafka-2", 2, "stopped"),
        ("kafka-3", 3, "stopped"),
        ("redis", None, "stopped"),
        ("registry", None, "stopped"),
    ]
    with pytest.raises(ConfigError) as refused:
        Stack(stack.settings.with_overrides(infra={"brokers": 1})).up()
    assert str(refused.value) == (
        f"the stack in {stack.state_dir} was created with 3 Kafka node(s), not 1: run"
        " `stream-sentinel infra down --purge` first to start it anew with --brokers 1 (this"
        " deletes its data), or leave out --brokers"
    )


def test_a_stack_formatted_before_clusters_counts_as_one_node(tmp_path: Path) -> None:
    single = _stack(tmp_path)
    (single.kafka.data_dir).mkdir(parents=True)
    (single.kafka.data_dir / "meta.properties").write_text("node.id=1\n")
    assert Stack(single.settings).layout.size == 1
    assert single.kafka.heap == "1g"
    with pytest.raises(ConfigError, match="was created with 1 Kafka node"):
        Stack(single.settings.with_overrides(infra={"brokers": 3})).up()


def test_topic_specs_carry_the_cluster_replication() -> None:
    replicated = Topics("p-").specs(3)
    assert {(s.replication_factor, s.config["min.insync.replicas"]) for s in replicated} == {
        (3, "2")
    }
    assert {s.replication_factor for s in Topics().specs()} == {None}  # the broker's default
    assert all("min.insync.replicas" not in s.config for s in Topics().specs(1))


def test_under_replicated_and_offline_partitions_are_reported() -> None:
    healthy = TopicInfo("t", 3, {"min.insync.replicas": "2"}, 3, (3, 3, 3))
    degraded = TopicInfo("a", 3, {"min.insync.replicas": "2"}, 3, (2, 3, 2))
    stalled = TopicInfo("b", 2, {"min.insync.replicas": "2"}, 3, (1, 1), leaderless=(1,))
    assert healthy.under_replicated == ()
    assert degraded.under_replicated == (0, 2)
    assert replication_problems({"t": healthy, "a": degraded, "b": stalled}) == [
        "a partitions [0, 2] under-replicated (ISR down to 2 of 3, min.insync.replicas 2:"
        " writes still accepted)",
        "b partitions [1] have no leader (offline)",
        "b partitions [0, 1] under-replicated (ISR down to 1 of 3, min.insync.replicas 2:"
        " acks=all writes refused)",
    ]


REPLICATION_TABLE = (
    "NodeId\tDirectoryId           \tLogEndOffset\tLag\tLastFetchTimestamp\t"
    "LastCaughtUpTimestamp\tStatus  \t\n"
    "1     \tAAAAAAAAAAAAAAAAAAAAAA\t54          \t0  \t1000000\t1000000        \tLeader  \t\n"
    "2     \tAAAAAAAAAAAAAAAAAAAAAA\t54          \t0  \t999500 \t999500         \tFollower\t\n"
    "3     \tAAAAAAAAAAAAAAAAAAAAAA\t40          \t14 \t995000 \t995000         \tFollower\t\n"
)


def test_the_quorum_tool_table_is_read_and_summarised() -> None:
    members = parse_replication(REPLICATION_TABLE)
    assert members == [
        QuorumMember(1, 54, 0, 1000000, "Leader"),
        QuorumMember(2, 54, 0, 999500, "Follower"),
        QuorumMember(3, 40, 14, 995000, "Follower"),
    ]
    assert quorum_summary(members, now_ms=1_000_000) == (
        "leader 1; voters 1 (leader), 2 lag 0, 3 lag 14"
    )
    with pytest.raises(AssertionError) as behind:
        quorum_summary(members, now_ms=1_008_000)
    assert str(behind.value) == (
        "leader 1; voters 1 (leader), 2 lag 0, 3 lag 14, behind for 13 s; 2 of 3 voters caught up"
    )
    leaderless = [QuorumMember(2, 5, 0, 1, "Follower")]
    with pytest.raises(AssertionError, match=r"no controller leader among voters \[2\]"):
        quorum_summary(leaderless, now_ms=1)
