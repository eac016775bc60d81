"""The real state store: redis-py with hiredis, wrapped once, thinly."""

from __future__ import annotations

import redis


def probe_redis(url: str, password: str | None = None, timeout_s: float = 2.0) -> bool:
    """True when a Redis server at ``url`` answers PING within ``timeout_s``."""
    client = redis.Redis.from_url(
        url, password=password, socket_timeout=timeout_s, socket_connect_timeout=timeout_s
    )
    try:
        return bool(client.ping())
    except (redis.ConnectionError, redis.TimeoutError, OSError):
        return False
    finally:
        client.close()
