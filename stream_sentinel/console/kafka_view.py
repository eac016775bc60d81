"""The Kafka page's figures: the cluster, its brokers and our topics against the expected
layout, the groups.

A broker is flagged where a config the project relies on is not the expected one
(:func:`expected_broker_config`). A topic is flagged where the broker's view differs from the
project's layout (:data:`~stream_sentinel.transport.topics.LAYOUT`): missing, another partition
count, a config that is not the one the project sets.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from stream_sentinel.console.sources import ConsoleSources
from stream_sentinel.ops.status import group_status, our_groups
from stream_sentinel.transport.base import TopicPartition
from stream_sentinel.transport.topics import LAYOUT


@dataclass
class TopicView:
    logical: str
    name: str
    partitions: int | None  # None: the topic does not exist
    expected_partitions: int | None
    config: dict[str, str]
    records: int  # end offsets minus the log start, summed (markers included)
    end_offsets: dict[int, int]
    problems: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "logical": self.logical,
            "name": self.name,
            "partitions": self.partitions,
            "expected_partitions": self.expected_partitions,
            "config": self.config,
            "records": self.records,
            "end_offsets": {str(p): o for p, o in self.end_offsets.items()},
            "problems": self.problems,
        }


def layout_problems(
    expected: tuple[int, dict[str, str]] | None, partitions: int | None, config: dict[str, str]
) -> list[str]:
    """Where a topic differs from the layout, in words (empty: as expected).

    >>> layout_problems((12, {"retention.ms": "1"}), 6, {"retention.ms": "2"})
    ['6 partitions, the layout has 12', 'retention.ms is 2, the layout sets 1']
    """
    if expected is None:
        return []
    if partitions is None:
        return ["missing: `stream-sentinel topics create` creates it"]
    want_partitions, want_config = expected
    problems = []
    if partitions != want_partitions:
        problems.append(f"{partitions} partitions, the layout has {want_partitions}")
    for name, value in sorted(want_config.items()):
        if config.get(name) != value:
            problems.append(f"{name} is {config.get(name, 'the default')}, the layout sets {value}")
    return problems


def read_topics(sources: ConsoleSources) -> list[TopicView]:
    """Every topic of the layout (prefixed), with its offsets and differences from the layout."""
    names = {sources.topics.name(logical): logical for logical in LAYOUT}
    described = sources.admin.describe_topics(list(names))
    tps = [TopicPartition(n, p) for n, info in described.items() for p in range(info.partitions)]
    ends = sources.admin.end_offsets(tps) if tps else {}
    views = []
    for name, logical in names.items():
        info = described.get(name)
        partitions = None if info is None else info.partitions
        config = {} if info is None else dict(info.config)
        offsets = {tp.partition: o for tp, o in ends.items() if tp.topic == name}
        views.append(
            TopicView(
                logical,
                name,
                partitions,
                LAYOUT[logical][0],
                config,
                sum(offsets.values()),
                dict(sorted(offsets.items())),
                layout_problems(LAYOUT[logical], partitions, config),
            )
        )
    return views


def expected_broker_config(brokers: int) -> dict[str, str]:
    """The broker configs the project relies on, for a cluster of ``brokers``: topics only
    from `topics create` (with their layout), and the offsets and transaction logs replicated
    on up to three brokers, with a write acknowledged by up to two.

    >>> expected_broker_config(1)["transaction.state.log.min.isr"]
    '1'
    >>> expected_broker_config(3)["offsets.topic.replication.factor"]
    '3'
    """
    replicas = str(min(brokers, 3))
    return {
        "auto.create.topics.enable": "false",
        "offsets.topic.replication.factor": replicas,
        "transaction.state.log.replication.factor": replicas,
        "transaction.state.log.min.isr": str(min(brokers, 2)),
    }


def read_brokers(sources: ConsoleSources) -> list[dict[str, Any]]:
    """Every broker with the configs the project relies on, flagged where they differ."""
    brokers = sources.admin.describe_brokers(list(expected_broker_config(1)))
    expected = expected_broker_config(len(brokers))
    return [
        {
            "id": broker.broker_id,
            "host": broker.host,
            "port": broker.port,
            "config": dict(broker.config),
            "expected": expected,
            "problems": broker_problems(expected, broker.config),
        }
        for broker in brokers
    ]


def broker_problems(expected: Mapping[str, str], config: Mapping[str, str]) -> list[str]:
    """Where a broker's configs differ from the expected ones, in words (empty: as expected).

    A number is a floor: with a broker down the live cluster is smaller than the one its logs
    were replicated for, and a replication factor above the live count is not a problem.

    >>> broker_problems({"auto.create.topics.enable": "false", "x": "3"},
    ...                 {"auto.create.topics.enable": "true"})
    ['auto.create.topics.enable is true, expected false', 'x is not reported, expected 3']
    >>> broker_problems({"x": "2"}, {"x": "3"}), broker_problems({"x": "2"}, {"x": "1"})
    ([], ['x is 1, expected at least 2'])
    """
    problems = []
    for name, value in expected.items():
        found = config.get(name)
        if found is None:
            problems.append(f"{name} is not reported, expected {value}")
        elif value.isdigit() and found.isdigit():
            if int(found) < int(value):
                problems.append(f"{name} is {found}, expected at least {value}")
        elif found != value:
            problems.append(f"{name} is {found}, expected {value}")
    return problems


def read_groups(sources: ConsoleSources) -> list[dict[str, Any]]:
    """Our consumer groups: per-partition committed offsets and lag, and their workers."""
    groups = []
    for group, topic in our_groups(sources.settings):
        status = group_status(sources.admin, sources.state, group, topic)
        groups.append(status.as_dict())
    return groups


def cluster(sources: ConsoleSources) -> dict[str, Any]:
    info = sources.admin.describe_cluster()
    return {
        "brokers": info.brokers,
        "controller_id": info.controller_id,
        "cluster_id": info.cluster_id,
        "bootstrap": sources.settings.kafka.bootstrap
        if sources.clients.kind == "local"
        else "embedded",
    }
