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
import os
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
    """The layout an earlier `infra up` recorded, or None when there is none.

    A file that cannot be read as a layout raises ConfigError: taking it for "no layout"
    would hide the other nodes of a cluster from `down` and `status`."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    try:
        layout = ClusterLayout.from_json(text)
        if not layout.nodes or layout.nodes[0].node_id != 1:
            raise ValueError("no node 1")
        return layout
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ConfigError(
            f"{path} is not a readable cluster layout ({type(exc).__name__}: {exc}): run"
            " `stream-sentinel infra down --purge` to stop every Kafka node in that directory"
            " and delete their data, then `infra up` again"
        ) from None


def write_layout(path: Path, layout: ClusterLayout) -> None:
    """Record ``layout`` atomically (a temporary file renamed over it): a crash mid-write
    leaves the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(layout.to_json() + "\n")
    os.replace(temporary, path)


def recorded_cluster_id(meta_properties: Path) -> str | None:
    """The ``cluster.id`` a node's storage was formatted with (None: not formatted)."""
    try:
        lines = meta_properties.read_text().splitlines()
    except FileNotFoundError:
        return None
    for line in lines:
        key, _, value = line.partition("=")
        if key.strip() == "cluster.id" and value.strip():
            return value.strip()
    return None


def quorum_port_problem(recorded: ClusterLayout | None, ports: StackPorts) -> str | None:
    """Why a recorded cluster cannot start on ``ports`` (its quorum's controller port moved),
    or None. One node can move: its single voter is formatted without ports."""
    if recorded is None or recorded.size == 1:
        return None
    was = recorded.nodes[0].controller_port
    if was == ports.controller:
        return None
    return (
        f"this {recorded.size}-node cluster's quorum was formatted with node 1's"
        f" controller on port {was}, but it is now {ports.controller}:"
        f" set SENTINEL_INFRA_CONTROLLER_PORT={was}, or run"
        " `stream-sentinel infra down --purge` to start a new cluster (deletes its data)"
    )


def current_layout(
    brokers: int,
    ports: StackPorts,
    cluster_id: str,
    recorded: ClusterLayout | None,
    free_ports: Callable[[int], list[int]],
) -> ClusterLayout:
    """The cluster as it is for `status` and `down`: a recorded multi-node one exactly as
    recorded (whatever the ports configured now), else the one ``plan_layout`` gives."""
    if recorded is not None and recorded.size > 1:
        return recorded
    return plan_layout(brokers, ports, cluster_id, recorded, free_ports)


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
        problem = quorum_port_problem(recorded, ports)
        if problem is not None:
            raise ConfigError(problem)
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
