"""The local stack launcher's section: where `infra up` keeps its files, what it runs."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from stream_sentinel.config.sources import SectionSettings


class InfraSettings(SectionSettings):
    """Where `infra up` keeps its data, logs and the Kafka jars. Ports come from the endpoints."""

    model_config = SettingsConfigDict(env_prefix="SENTINEL_INFRA_")

    state_dir: Path = Path(".sentinel")
    cache_dir: Path = Path.home() / ".cache" / "stream-sentinel"
    kafka_version: str = "4.1.1"
    kafka_heap: str = "1g"
    controller_port: int | None = None  # default: the Kafka client port + 1
    # KRaft nodes (1, or 3 for a replicated cluster); None: what the stack was created with.
    brokers: int | None = None
    # Each node's heap in a cluster: three JVMs share the machine, so each gets less than one.
    kafka_cluster_heap: str = "512m"
    start_timeout_s: float = 90.0
    # Schema registry instances sharing one _schemas log (one leads, the others forward writes).
    registry_instances: int = Field(default=1, ge=1, le=9)
    # A broker flushing its logs can take a while to stop; after this it gets SIGKILL.
    stop_timeout_s: float = 30.0
    # The programs the launcher runs, for machines where they are not on PATH under these names.
    java: str = "java"
    maven: str = "mvn"
    redis_server: str = "redis-server"
