"""`check` and `topics` on multi-broker clusters: what they flag, what they skip, and why."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pytest

from stream_sentinel.commands.check import SECURED, SINGLE_VOTER, _quorum
from stream_sentinel.config import load_settings
from stream_sentinel.errors import InfraError
from stream_sentinel.infra.quorum import QuorumMember, quorum_summary, tool_failure
from stream_sentinel.ops.health import (
    CheckResult,
    check_kafka,
    cluster_size,
    layout_problems,
    replication_shortfall,
    require_all_live,
)
from stream_sentinel.transport.base import BrokerInfo, ClusterInfo, TopicInfo
from stream_sentinel.transport.memory import MemoryAdmin, MemoryBroker
from stream_sentinel.transport.memory_log import MemoryCluster
from stream_sentinel.transport.topics import Topics

pytestmark = pytest.mark.unit
TOPICS = Topics("p-")


class DescribedAdmin(MemoryAdmin):
    """An admin answering with a fixed description of a cluster (for the pure checks)."""

    def __init__(
        self,
        live: int,
        broker_config: Mapping[str, str],
        topics: Mapping[str, TopicInfo],
    ) -> None:
        self.cluster = MemoryCluster()
        super().__init__(self.cluster)
        self.live, self.broker_config, self.topics = live, broker_config, dict(topics)

    def describe_cluster(self) -> ClusterInfo:
        return ClusterInfo(self.live, 1, "cid")

    def describe_brokers(self, config_names: Sequence[str]) -> list[BrokerInfo]:
        config = {k: v for k, v in self.broker_config.items() if k in config_names}
        return [BrokerInfo(n, "127.0.0.1", 9092 + n, config) for n in range(1, self.live + 1)]

    def describe_topics(self, names: Sequence[str] | None = None) -> dict[str, TopicInfo]:
        wanted = list(self.topics) if names is None else names
        return {name: self.topics[name] for name in wanted if name in self.topics}


def layout_topics(replication: int, min_insync: str | None) -> dict[str, TopicInfo]:
    """Every topic of the layout as given, with ``min_insync`` set on it (None: inherited)."""
    found = {}
    for spec in TOPICS.specs():
        config = {k: v for k, v in spec.config.items() if k != "min.insync.replicas"}
        if min_insync is not None:
            config["min.insync.replicas"] = min_insync
        found[spec.name] = TopicInfo(spec.name, spec.partitions, config, replication)
    return found


THREE = {"default.replication.factor": "3", "min.insync.replicas": "2"}


def test_topics_an_earlier_version_made_with_one_copy_are_a_warning_not_a_layout_failure() -> None:
    admin = DescribedAdmin(3, THREE, layout_topics(1, "1"))
    assert layout_problems(admin, TOPICS) == []
    short = replication_shortfall(admin, TOPICS, cluster_size(admin))
    assert len(short) == 10
    assert short[0] == ("p-_schemas has 1 replica(s), fewer than the 3 a 3-broker cluster allows")
    topics, shortfall = check_kafka_results(admin)[1:3]
    assert topics.mark == "PASS"
    assert shortfall.mark == "WARN"
    assert shortfall.detail.endswith(
        "; and 8 more: recreate the topic (delete it, then `stream-sentinel topics create`; its"
        " records are lost) or add replicas with kafka-reassign-partitions --execute"
    )


def check_kafka_results(admin: DescribedAdmin) -> list[CheckResult]:
    """The metadata, topics and replication-factor results."""
    return check_kafka(MemoryBroker(admin.cluster), admin, TOPICS)[:3]


def test_min_insync_is_a_floor_read_from_the_topic_or_inherited_from_the_brokers() -> None:
    inherited = DescribedAdmin(3, THREE, layout_topics(3, None))
    assert layout_problems(inherited, TOPICS) == []
    stricter = DescribedAdmin(3, THREE, layout_topics(3, "3"))
    assert layout_problems(stricter, TOPICS) == []
    loose = DescribedAdmin(3, {**THREE, "min.insync.replicas": "1"}, layout_topics(3, None))
    problems = layout_problems(loose, TOPICS)
    assert len(problems) == 10
    assert problems[0] == "p-transactions min.insync.replicas=1, expected at least 2"
    topics = check_kafka_results(loose)[1]
    assert topics.mark == "FAIL"
    assert topics.detail.endswith(
        " (`topics create` changes no existing topic: alter it with kafka-configs or recreate it)"
    )


def test_the_cluster_size_counts_brokers_that_are_down() -> None:
    two_of_three = DescribedAdmin(2, THREE, {})
    assert cluster_size(two_of_three) == 3
    assert cluster_size(DescribedAdmin(1, {"default.replication.factor": "1"}, {})) == 1
    assert cluster_size(DescribedAdmin(1, {}, {}), recorded=3) == 3
    with pytest.raises(InfraError) as refused:
        require_all_live(2, cluster_size(two_of_three))
    assert str(refused.value) == (
        "only 2 of the cluster's 3 brokers answer: topics created now would get 2 replica(s)"
        " instead of 3, and keep them. Start the missing broker(s) (`stream-sentinel infra"
        " status` names the local ones, `infra up` starts them) and run `topics create` again"
    )
    require_all_live(3, 3)  # all there: nothing to refuse
    assert cluster_size(DescribedAdmin(3, THREE, {})) == 3


@pytest.mark.parametrize(
    ("environ", "live", "detail"),
    [
        ({}, 1, SINGLE_VOTER),
        ({"SENTINEL_KAFKA_SECURITY_PROTOCOL": "SASL_SSL"}, 3, SECURED),
    ],
)
def test_the_quorum_tool_is_not_run_on_one_broker_or_a_secured_cluster(
    environ: dict[str, str], live: int, detail: str
) -> None:
    settings = load_settings(
        environ={"SENTINEL_INFRA_JAVA": "/nonexistent/java", **environ}
    ).with_overrides(
        kafka={"security_protocol": environ.get("SENTINEL_KAFKA_SECURITY_PROTOCOL", "PLAINTEXT")}
    )
    admin = DescribedAdmin(live, {"default.replication.factor": str(live)}, {})
    assert _quorum(settings, admin, 5.0, metadata_ok=True) == CheckResult(
        "kafka: controller quorum", True, detail, "SKIP"
    )
    assert detail in ("not checked (single voter)", "not checked (secured cluster)")


def test_a_follower_that_never_caught_up_is_behind_and_the_tool_error_is_the_exception() -> None:
    members = [QuorumMember(1, 9, 0, 1000, "Leader"), QuorumMember(2, 3, 6, -1, "Follower")]
    with pytest.raises(AssertionError) as behind:
        quorum_summary(members, now_ms=1000)
    assert str(behind.value) == (
        "leader 1; voters 1 (leader), 2 lag 6, not caught up since election; 1 of 2 voters"
        " caught up"
    )
    stderr = (
        "SLF4J: No SLF4J providers were found.\n"
        "SLF4J: Defaulting to no-operation (NOP) logger implementation\n"
        "org.apache.kafka.common.errors.TimeoutException: Timed out waiting for a node\n"
        "\tat org.apache.kafka.tools.MetadataQuorumCommand.main(MetadataQuorumCommand.java:1)\n"
    )
    assert tool_failure(stderr) == (
        "org.apache.kafka.common.errors.TimeoutException: Timed out waiting for a node"
    )
    assert tool_failure("warning\nconnection refused\n") == "connection refused"
    assert tool_failure("") == "no output"
