"""The Redis store's per-database clients keep the connection's TLS (no server is contacted)."""

from __future__ import annotations

import pytest
import redis

from stream_sentinel.config import RedisSettings
from stream_sentinel.state.base import Namespace
from stream_sentinel.state.redis import RedisStateStore

pytestmark = pytest.mark.unit


def test_every_logical_database_is_reached_over_tls_with_the_same_ca_and_user() -> None:
    settings = RedisSettings(url="rediss://detector@127.0.0.1:16379/0?ssl_ca_certs=/ca.pem")
    store = RedisStateStore(settings)
    try:
        for ns in Namespace:
            pool = store._db_client(ns).connection_pool
            assert pool.connection_class is redis.SSLConnection
            kwargs = pool.connection_kwargs
            assert (kwargs["db"], kwargs["ssl_ca_certs"], kwargs["username"]) == (
                int(ns),
                "/ca.pem",
                "detector",
            )
    finally:
        store.close()


def test_a_plain_url_keeps_plain_connections_in_every_database() -> None:
    store = RedisStateStore(RedisSettings(url="redis://127.0.0.1:16379"))
    try:
        classes = {store._db_client(ns).connection_pool.connection_class for ns in Namespace}
    finally:
        store.close()
    assert classes == {redis.Connection}
