"""The real broker: confluent-kafka (librdkafka), wrapped once, thinly."""

from __future__ import annotations

from confluent_kafka.admin import AdminClient


def probe_kafka(bootstrap: str, timeout_s: float = 2.0) -> bool:
    """True when a broker at ``bootstrap`` answers a metadata request within ``timeout_s``."""
    admin = AdminClient({"bootstrap.servers": bootstrap, "socket.connection.setup.timeout.ms": 1000})
    try:
        metadata = admin.list_topics(timeout=timeout_s)
    except Exception:
        return False
    return bool(metadata.brokers)
