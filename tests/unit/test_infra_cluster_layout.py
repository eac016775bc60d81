"""A recorded cluster as `status`/`down` see it, whatever the configured ports; a lost or
corrupt cluster.json hides no node from `down --purge`."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from stream_sentinel.cli import cli
from stream_sentinel.commands.infra import _up_line
from stream_sentinel.config import Settings, load_settings
from stream_sentinel.errors import ConfigError
from stream_sentinel.infra.kafka_cluster import (
    ClusterLayout,
    KafkaNode,
    load_layout,
    write_layout,
)
from stream_sentinel.infra.process import Launch, ManagedProcess, free_ports
from stream_sentinel.infra.stack import ServiceReport, Stack

pytestmark = pytest.mark.unit


def _env(tmp_path: Path, kafka: int, controller: int | None) -> dict[str, str]:
    redis, registry = free_ports(2)
    return {
        "SENTINEL_KAFKA_BOOTSTRAP": f"127.0.0.1:{kafka}",
        **({"SENTINEL_INFRA_CONTROLLER_PORT": str(controller)} if controller else {}),
        "SENTINEL_REDIS_URL": f"redis://127.0.0.1:{redis}",
        "SENTINEL_REGISTRY_URL": f"http://127.0.0.1:{registry}",
        "SENTINEL_INFRA_STATE_DIR": str(tmp_path / "state"),
        "SENTINEL_INFRA_CACHE_DIR": str(tmp_path / "cache"),
    }


def _recorded_cluster(tmp_path: Path) -> tuple[ClusterLayout, Path]:
    a, b, c, d, e, f = free_ports(6)
    layout = ClusterLayout("c1uster-id-0000000000A", (KafkaNode(1, a, b), KafkaNode(2, c, d)))
    layout = ClusterLayout(layout.cluster_id, (*layout.nodes, KafkaNode(3, e, f)))
    state = tmp_path / "state"
    write_layout(state / "kafka" / "cluster.json", layout)
    return layout, state


def _sleeper(pid_file: Path) -> int:
    """A process owned through ``pid_file``, as `infra up` leaves one (stopped by the test)."""
    marker = f"sentinel-test-{pid_file.parent.name}"
    launch = Launch(
        argv=[sys.executable, "-c", "import time; time.sleep(120)", marker],
        env={},
        cwd=pid_file.parent,
        console_log=pid_file.parent / "logs" / "console.log",
        marker=marker,
    )
    return ManagedProcess(pid_file).start(launch)


def test_status_and_down_use_the_recorded_ports_when_only_the_bootstrap_port_moved(
    tmp_path: Path,
) -> None:
    layout, _ = _recorded_cluster(tmp_path)
    (moved,) = free_ports(1)  # the controller port now defaults to moved + 1
    env = _env(tmp_path, moved, None)
    stack = Stack(load_settings(environ=env))
    assert stack.layout == layout
    assert [(r.service, r.ports) for r in stack.status()[:3]] == [
        (
            "kafka",
            {
                "Kafka client": layout.nodes[0].client_port,
                "KRaft controller": layout.nodes[0].controller_port,
            },
        ),
        (
            "kafka-2",
            {
                "Kafka node 2 client": layout.nodes[1].client_port,
                "KRaft node 2 controller": layout.nodes[1].controller_port,
            },
        ),
        (
            "kafka-3",
            {
                "Kafka node 3 client": layout.nodes[2].client_port,
                "KRaft node 3 controller": layout.nodes[2].controller_port,
            },
        ),
    ]
    result = stack.down(purge=True)
    assert [(r.service, r.state) for r in result.services[:3]] == [
        ("kafka", "not running"),
        ("kafka-2", "not running"),
        ("kafka-3", "not running"),
    ]
    assert not (tmp_path / "state" / "kafka").exists()
    layout, _ = _recorded_cluster(tmp_path)
    was = layout.nodes[0].controller_port
    with pytest.raises(ConfigError) as refused:
        Stack(load_settings(environ=env)).up()
    assert str(refused.value) == (
        f"this 3-node cluster's quorum was formatted with node 1's controller on port {was},"
        f" but it is now {moved + 1}: set SENTINEL_INFRA_CONTROLLER_PORT={was}, or run"
        " `stream-sentinel infra down --purge` to start a new cluster (deletes its data)"
    )


def test_infra_down_purge_works_from_the_cli_after_the_controller_port_moved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    layout, state = _recorded_cluster(tmp_path)
    for name, value in _env(tmp_path, layout.nodes[0].client_port, free_ports(1)[0]).items():
        monkeypatch.setenv(name, value)
    (state / "kafka-2").mkdir()
    result = CliRunner().invoke(cli, ["infra", "down", "--purge"])
    assert result.exit_code == 0, result.output
    assert f"deleted {state / 'kafka'}" in result.output
    assert f"deleted {state / 'kafka-2'}" in result.output
    assert not state.exists()


def test_a_corrupt_layout_is_an_error_naming_the_file_not_no_layout(tmp_path: Path) -> None:
    path = tmp_path / "cluster.json"
    path.write_text('{"cluster_id": "x", "nodes": [{"node_id": 1, "client_')
    with pytest.raises(ConfigError) as refused:
        load_layout(path)
    assert str(refused.value).startswith(f"{path} is not a readable cluster layout (")
    assert str(refused.value).endswith(
        ": run `stream-sentinel infra down --purge` to stop every Kafka node in that directory"
        " and delete their data, then `infra up` again"
    )
    assert load_layout(tmp_path / "absent.json") is None


def test_the_layout_is_written_by_rename_leaving_no_temporary_file(tmp_path: Path) -> None:
    layout = ClusterLayout("cid", (KafkaNode(1, 1, 2),))
    path = tmp_path / "kafka" / "cluster.json"
    path.parent.mkdir()
    path.write_text("old")
    write_layout(path, layout)
    assert path.read_text() == layout.to_json() + "\n"
    assert sorted(p.name for p in path.parent.iterdir()) == ["cluster.json"]


def test_down_stops_and_purges_nodes_a_corrupt_layout_no_longer_names(tmp_path: Path) -> None:
    env = _env(tmp_path, *free_ports(2))
    state = tmp_path / "state"
    (state / "kafka").mkdir(parents=True)
    (state / "kafka" / "cluster.json").write_text("{not json")
    pids = []
    for name in ("kafka-2", "kafka-3"):
        (state / name / "data").mkdir(parents=True)
        pids.append(_sleeper(state / name / f"{name}.pid"))
    stack = Stack(load_settings(environ=env))
    with pytest.raises(ConfigError, match="is not a readable cluster layout"):
        stack.status()
    with pytest.raises(ConfigError, match="is not a readable cluster layout"):
        stack.up()
    result = stack.down(purge=True)
    assert sorted(result.strays) == sorted(pids)
    assert [ManagedProcess(state / n / f"{n}.pid").pid() for n in ("kafka-2", "kafka-3")] == [
        None,
        None,
    ]
    assert sorted(result.purged) == [state / "kafka", state / "kafka-2", state / "kafka-3"]
    assert not state.exists()


def test_a_single_node_formatted_before_layouts_keeps_its_cluster_id(tmp_path: Path) -> None:
    settings: Settings = load_settings(environ=_env(tmp_path, *free_ports(2)))
    data = tmp_path / "state" / "kafka" / "data"
    data.mkdir(parents=True)
    (data / "meta.properties").write_text(
        "#\nnode.id=1\ndirectory.id=AbC\nversion=1\ncluster.id=0ld-Cluster-Id_000000A\n"
    )
    assert Stack(settings).layout.cluster_id == "0ld-Cluster-Id_000000A"


def test_the_up_line_names_the_controller_port_by_role() -> None:
    report = ServiceReport(
        service="kafka-2",
        title="Kafka node 2",
        state="started",
        pid=7,
        ports={"KRaft node 2 controller": 29093, "Kafka node 2 client": 29092},
        endpoint="127.0.0.1:29092",
        healthy=True,
        log=Path("/s/kafka-2/logs/server.log"),
        node_id=2,
    )
    assert _up_line(report) == (
        "Kafka node 2     started          127.0.0.1:29092 (KRaft controller on port 29093)"
        "  pid 7  log /s/kafka-2/logs/server.log"
    )
