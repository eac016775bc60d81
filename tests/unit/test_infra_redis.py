"""The redis.conf `infra up` generates: the seed's configuration, on loopback."""

from __future__ import annotations

from pathlib import Path

from stream_sentinel.config import load_settings
from stream_sentinel.infra.redis import redis_config, redis_password

DATA = Path("/state/redis/data")
LOG = Path("/state/redis/logs/redis.log")
TITLE = 'proc-title-template "{title} {listen-addr} {server-mode} {config-file}"'


def test_default_config_is_the_seeds_with_ttl_only_eviction() -> None:
    redis = load_settings(environ={}).redis
    assert redis_config(redis, 6379, DATA, LOG) == [
        "port 6379",
        "bind 127.0.0.1",
        "protected-mode yes",
        "daemonize no",
        'dir "/state/redis/data"',
        'logfile "/state/redis/logs/redis.log"',
        "appendonly yes",
        "appendfsync everysec",
        "maxmemory 512mb",
        "maxmemory-policy volatile-lru",
        TITLE,
    ]


def test_maxmemory_and_fsync_follow_the_settings() -> None:
    redis = load_settings(
        environ={"SENTINEL_REDIS_APPENDFSYNC": "always"}, overrides={"redis": {"maxmemory": "4gb"}}
    ).redis
    lines = redis_config(redis, 16379, DATA, LOG)
    assert (lines[0], lines[7], lines[8]) == ("port 16379", "appendfsync always", "maxmemory 4gb")


def test_a_password_becomes_requirepass_quoted() -> None:
    redis = load_settings(environ={"SENTINEL_REDIS_PASSWORD": 'se"cr et'}).redis
    assert redis_config(redis, 6379, DATA, LOG)[-1] == 'requirepass "se\\"cr et"'


def test_the_password_may_come_from_the_url() -> None:
    redis = load_settings(environ={"SENTINEL_REDIS_URL": "redis://:p%40ss@127.0.0.1:6379/0"}).redis
    assert redis_password(redis) == "p@ss"
    assert redis_config(redis, 6379, DATA, LOG)[-1] == 'requirepass "p@ss"'


def test_no_password_means_no_requirepass() -> None:
    redis = load_settings(environ={}).redis
    assert redis_password(redis) is None
    assert not any(line.startswith("requirepass") for line in redis_config(redis, 6379, DATA, LOG))


def test_paths_with_quotes_and_backslashes_are_escaped() -> None:
    redis = load_settings(environ={}).redis
    lines = redis_config(redis, 6379, Path('/odd "dir"\\x'), LOG)
    assert lines[4] == 'dir "/odd \\"dir\\"\\\\x"'
