"""Where a benchmark ran: the machine, the versions of everything in the path, the server pids."""

from __future__ import annotations

import os
import platform
import re
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from typing import Any

import psutil

from stream_sentinel import __version__
from stream_sentinel.config import Settings
from stream_sentinel.errors import ConfigError
from stream_sentinel.infra.endpoints import kafka_port, redis_port

_KAFKA_VERSION = re.compile(r"kafka[-_](?:2\.\d+-)?(\d+\.\d+\.\d+)")


@dataclass(frozen=True, slots=True)
class Servers:
    """The local Kafka and Redis processes (None when not on this machine or not visible)."""

    kafka_pid: int | None
    redis_pid: int | None

    @classmethod
    def find(cls, settings: Settings) -> Servers:
        return cls(
            _listener(_port(kafka_port, settings.kafka.bootstrap)),
            _listener(_port(redis_port, settings.redis.url)),
        )

    def kafka_version(self) -> str | None:
        """From the broker's class path (the launcher's ``kafka-4.1.1/lib``, or a jar name)."""
        if self.kafka_pid is None:
            return None
        try:
            found = _KAFKA_VERSION.search(" ".join(psutil.Process(self.kafka_pid).cmdline()))
        except psutil.Error:
            return None
        return found.group(1) if found else None


def _port(parse: Any, endpoint: str) -> int | None:
    try:
        return int(parse(endpoint))
    except ConfigError:
        return None  # not a loopback endpoint: the server is not on this machine


def _listener(port: int | None) -> int | None:
    if port is None:
        return None
    try:
        connections = psutil.net_connections(kind="tcp")
    except (psutil.Error, OSError):
        return None
    for connection in connections:
        if connection.status == psutil.CONN_LISTEN and connection.laddr.port == port:
            return connection.pid
    return None


def machine() -> dict[str, Any]:
    memory = psutil.virtual_memory()
    return {
        "cores": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "memory_gb": round(memory.total / 2**30, 1),
        "os": f"{platform.system()} {platform.release()}",
        "load_average_1m": round(os.getloadavg()[0], 2),
    }


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def versions(servers: Servers, redis_version: str | None) -> dict[str, Any]:
    import confluent_kafka
    import lightgbm
    import numpy

    return {
        "stream_sentinel": __version__,
        "python": sys.version.split()[0],
        "confluent_kafka": metadata.version("confluent-kafka"),
        "librdkafka": confluent_kafka.libversion()[0],
        "kafka": servers.kafka_version(),
        "redis": redis_version,
        "numpy": numpy.__version__,
        "lightgbm": lightgbm.__version__,
    }


def now_iso() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()
