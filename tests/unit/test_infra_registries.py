"""Several registry instances in the local stack (`infra up --registry-instances N`): where each
listens and how `status`/`down` find them again. Nothing is started in this tier."""

from __future__ import annotations

from pathlib import Path

from stream_sentinel.config import Settings, load_settings
from stream_sentinel.infra.process import free_ports
from stream_sentinel.infra.stack import Stack


def settings_for(tmp_path: Path, instances: int | None = None) -> Settings:
    kafka, controller, redis, registry = free_ports(4)
    environ = {
        "SENTINEL_KAFKA_BOOTSTRAP": f"127.0.0.1:{kafka}",
        "SENTINEL_INFRA_CONTROLLER_PORT": str(controller),
        "SENTINEL_REDIS_URL": f"redis://127.0.0.1:{redis}",
        "SENTINEL_REGISTRY_URL": f"http://127.0.0.1:{registry}",
        "SENTINEL_INFRA_STATE_DIR": str(tmp_path / "state"),
    }
    if instances is not None:
        environ["SENTINEL_INFRA_REGISTRY_INSTANCES"] = str(instances)
    return load_settings(environ=environ)


def test_the_first_instance_takes_the_registry_port_and_the_others_free_ones(
    tmp_path: Path,
) -> None:
    settings = settings_for(tmp_path, instances=3)
    stack = Stack(settings)
    reports = stack.status()
    registries = [r for r in reports if r.service.startswith("registry")]
    assert [(r.service, r.title, r.state) for r in registries] == [
        ("registry", "Schema registry", "stopped"),
        ("registry-2", "Schema registry 2", "stopped"),
        ("registry-3", "Schema registry 3", "stopped"),
    ]
    assert registries[0].port == stack.ports.registry
    ports = [r.port for r in registries]
    assert len(set(ports)) == 3
    assert [r.endpoint for r in registries] == [f"http://127.0.0.1:{p}" for p in ports]


def test_status_and_down_find_every_instance_an_earlier_up_set_up(tmp_path: Path) -> None:
    first = Stack(settings_for(tmp_path, instances=2))
    port = first.registries[1].listen_port
    again = Stack(settings_for(tmp_path))  # without --registry-instances
    assert [s.name for s in again.registries] == ["registry", "registry-2"]
    assert again.registries[1].listen_port == port
    stopped = again.down(purge=True)
    assert [r.service for r in stopped.services][-2:] == ["registry", "registry-2"]
    assert Stack(settings_for(tmp_path)).registries[1:] == []
