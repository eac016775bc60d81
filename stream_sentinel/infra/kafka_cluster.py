"""The local Kafka cluster's shape: how many KRaft nodes, their ids and ports, and replication.

One node (the default) or three, each both broker and controller ("combined" mode). A
three-node cluster has a three-voter static quorum (``controller.quorum.voters``): any two
nodes elect a controller, so one can be lost. Node 1 listens on the configured client and
controller ports, so the default bootstrap keeps working; the others on free ports chosen at
the first start and kept, with the cluster id, in ``kafka/cluster.json``: the quorum's voters
are formatted into every node's storage and must not move afterwards.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from stream_sentinel.errors import ConfigError
from stream_sentinel.infra.endpoints import BIND_HOST, StackPorts
from stream_sentinel.transport.topics import min_insync_for, replication_for

SUPPORTED_SIZES = (1, 3)
LAYOUT_FILE = "cluster.json"


def require_supported(brokers: int) -> int:
    """``brokers`` if the launcher can run that many nodes; else a ConfigError saying what can."""
    if brokers not in SUPPORTED_SIZES:
        raise ConfigError(
            f"--brokers {brokers} is not supported: the local stack runs 1 broker (the default)"
            " or a 3-node KRaft cluster (--brokers 3)"
        )
    return brokers


@dataclass(frozen=True, slots=True)
class KafkaNode:
    """One KRaft node: broker and controller in one JVM."""

    node_id: int
    client_port: int
    controller_port: int

    @property
    def name(self) -> str:
        """Its directory under the state dir: ``kafka`` for node 1, ``kafka-2`` and on."""
        return "kafka" if self.node_id == 1 else f"kafka-{self.node_id}"


@dataclass(frozen=True, slots=True)
class ClusterLayout:
    """Every node of the local cluster, and the id its storage is formatted with."""

    cluster_id: str
    nodes: tuple[KafkaNode, ...]

    @property
    def size(self) -> int:
        return len(self.nodes)

    @property
    def replication(self) -> int:
        return replication_for(self.size)

    @property
    def voters(self) -> str:
        """``controller.quorum.voters``: ``id@host:port`` of every controller."""
        return ",".join(f"{n.node_id}@{BIND_HOST}:{n.controller_port}" for n in self.nodes)

    def to_json(self) -> str:
        return json.dumps({"cluster_id": self.cluster_id, "nodes": [asdict(n) for n in self.nodes]})

    @classmethod
    def from_json(cls, text: str) -> ClusterLayout:
        data = json.loads(text)
        return cls(data["cluster_id"], tuple(KafkaNode(**node) for node in data["nodes"]))


def load_layout(path: Path) -> ClusterLayout | None:
    """The layout an earlier `infra up` recorded, or None."""
    try:
        return ClusterLayout.from_json(path.read_text())
    except (OSError, ValueError, KeyError, TypeError):
        return None


def plan_layout(
    brokers: int,
    ports: StackPorts,
    cluster_id: str,
    recorded: ClusterLayout | None,
    free_ports: Callable[[int], list[int]],
) -> ClusterLayout:
    """The cluster to run: the recorded one (node 1 on the configured ports), or a new one."""
    first = KafkaNode(1, ports.kafka, ports.controller)
    if recorded is not None:
        was = recorded.nodes[0]
        if recorded.size > 1 and was.controller_port != first.controller_port:
            raise ConfigError(
                f"this {recorded.size}-node cluster's quorum was formatted with node 1's"
                f" controller on port {was.controller_port}, but it is now {first.controller_port}:"
                f" set SENTINEL_INFRA_CONTROLLER_PORT={was.controller_port}, or run"
                " `stream-sentinel infra down --purge` to start a new cluster (deletes its data)"
            )
        return ClusterLayout(recorded.cluster_id, (first, *recorded.nodes[1:]))
    spare = free_ports(2 * (brokers - 1))
    others = tuple(
        KafkaNode(n, spare[2 * (n - 2)], spare[2 * (n - 2) + 1]) for n in range(2, brokers + 1)
    )
    return ClusterLayout(cluster_id, (first, *others))


def replication_properties(replication: int) -> dict[str, str]:
    """Internal topics (offsets, transactions, share state) and the topics' defaults as
    replicated as the cluster allows: one copy on one node; three, two of them in sync for a
    write to count, on three."""
    copies, in_sync = str(replication), str(min_insync_for(replication))
    return {
        "offsets.topic.replication.factor": copies,
        "transaction.state.log.replication.factor": copies,
        "transaction.state.log.min.isr": in_sync,
        "share.coordinator.state.topic.replication.factor": copies,
        "share.coordinator.state.topic.min.isr": in_sync,
    }


#: Nothing appears unless the project creates it (topics come with their layout, never by
#: auto-create), and consumers get partitions at once.
COMMON_PROPERTIES: dict[str, str] = {
    "group.initial.rebalance.delay.ms": "0",
    "auto.create.topics.enable": "false",
}


def cluster_node_properties(
    layout: ClusterLayout, node: KafkaNode, data_dir: Path
) -> dict[str, str]:
    """One node of a multi-node cluster: combined roles, the static quorum, replication."""
    client = f"PLAINTEXT://{BIND_HOST}:{node.client_port}"
    controller = f"CONTROLLER://{BIND_HOST}:{node.controller_port}"
    replication = layout.replication
    return {
        "process.roles": "broker,controller",
        "node.id": str(node.node_id),
        "controller.quorum.voters": layout.voters,
        "listeners": f"{client},{controller}",
        "advertised.listeners": f"{client},{controller}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "log.dirs": str(data_dir),
        "num.partitions": "1",
        "default.replication.factor": str(replication),
        "min.insync.replicas": str(min_insync_for(replication)),
        **replication_properties(replication),
        **COMMON_PROPERTIES,
    }
